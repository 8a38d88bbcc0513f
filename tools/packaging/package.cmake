# The Debian package: `cmake --build --preset release --target package` (or `cpack -G DEB` in
# build/release once herald is built) writes build/release/herald_<version>_<arch>.deb with the
# binary, the systemd unit, its environment file and the README. tools/packaging/check.sh checks it.
install(TARGETS herald RUNTIME DESTINATION bin)
install(FILES tools/packaging/herald.service DESTINATION lib/systemd/system)
# Absolute: /etc is outside the /usr prefix. A conffile (see conffiles): an upgrade keeps edits.
install(FILES tools/packaging/herald.default DESTINATION /etc/default RENAME herald)
install(FILES README.md DESTINATION share/doc/herald)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME herald)
set(CPACK_PACKAGE_VENDOR "Herald")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "WebSocket push server")
set(CPACK_PACKAGE_DESCRIPTION
    "Browsers and apps keep a WebSocket open to Herald; any backend pushes to a user with one HTTP call.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Herald maintainers <herald@example.com>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The shared libraries' packages (Boost 1.81, OpenSSL) come from dpkg-shlibdeps; adduser is for
# the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging/postinst;${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging/prerm;${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging/postrm;${CMAKE_CURRENT_SOURCE_DIR}/tools/packaging/conffiles")
include(CPack)
