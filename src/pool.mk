# Beside the stack: mempool, percpu.
