# Slab and magazine layers.
