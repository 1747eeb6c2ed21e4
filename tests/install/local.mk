# Install tier: the package installed into a temporary DESTDIR and used the
# way the README says, through pkg-config alone (shared and static).
install_tests += tests/install/installed.sh
EXTRA_DIST += $(install_tests)
