# tests/preload tests
