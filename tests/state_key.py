"""The state key every test runs with (tests/conftest.py sets it as GOMME_SECRET_KEY)."""

from gomme.state.keys import Keyring

TEST_SECRET = "test-secret-key-not-for-production"
TEST_KEYRING = Keyring(TEST_SECRET.encode())
