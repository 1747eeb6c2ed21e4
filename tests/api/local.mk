# tests/api tests
