# Page layer unit tests (tests/unit/).
