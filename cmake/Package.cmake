# The Debian package (cpack -G DEB; docs/install.md): authd_<version>_amd64.deb.
#
# Made from the same install rules as `cmake --install` (CMakeLists.txt), with the paths a Debian
# package uses: prefix /usr, the unit in /lib/systemd/system, an example configuration installed
# as the conffile /etc/authd/authd.conf, a copyright file and a changelog in the docs, man pages
# made from --help by help2man. Dependencies are computed from the binaries' shared libraries
# (dpkg-shlibdeps). The maintainer scripts (packaging/debian/) create the authd user, its state
# directory and a signing key, and keep the store and the key on removal.
#
# Configure with -DAUTHD_PACKAGE=ON (the preset "package" does), build, then run cpack in the
# build directory (scripts/package.sh does all three).

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME authd)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "high-throughput login server: argon2id, signed tokens")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "authd answers login requests: it checks a user name and password against\n\
an argon2id hash and answers with a signed token (a JWT) that works for 30\n\
minutes. It also checks tokens for services (/verify), revokes them (/logout)\n\
and publishes its public keys (JWKS).\n\
.\n\
This package holds authd, the authctl tool that manages users and keys, and a\n\
hardened systemd unit. Installing it creates the authd system user,\n\
/var/lib/authd and a signing key.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER
    "authd maintainers <maintainers@users.noreply.r-seed-1789bb86.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# useradd, where systemd-sysusers is not installed (postinst).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${PROJECT_SOURCE_DIR}/packaging/debian/postinst;${PROJECT_SOURCE_DIR}/packaging/debian/prerm;${PROJECT_SOURCE_DIR}/packaging/debian/postrm;${PROJECT_SOURCE_DIR}/packaging/debian/conffiles")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Absolute destinations (/etc, /lib/systemd/system) are staged under DESTDIR.
set(CPACK_SET_DESTDIR ON)
set(CPACK_STRIP_FILES ON)

install(FILES packaging/authd.conf DESTINATION /etc/authd)
install(FILES packaging/debian/copyright DESTINATION "${CMAKE_INSTALL_DOCDIR}")

find_program(GZIP_EXECUTABLE gzip REQUIRED)
find_program(HELP2MAN_EXECUTABLE help2man REQUIRED)
set(package_doc "${PROJECT_BINARY_DIR}/package-doc")
add_custom_command(
  OUTPUT "${package_doc}/changelog.gz"
  COMMAND ${CMAKE_COMMAND} -E make_directory "${package_doc}"
  COMMAND ${GZIP_EXECUTABLE} -9nc "${PROJECT_SOURCE_DIR}/packaging/debian/changelog" >
          "${package_doc}/changelog.gz"
  DEPENDS "${PROJECT_SOURCE_DIR}/packaging/debian/changelog"
  VERBATIM)
set(man_pages)
set(authd_whatis "the login server: passwords checked, signed tokens issued")
set(authctl_whatis "manage authd's users and signing keys")
foreach(tool authd authctl)
  add_custom_command(
    OUTPUT "${package_doc}/${tool}.1.gz"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${package_doc}"
    COMMAND ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr --version-string
            "${PROJECT_VERSION}" --name "${${tool}_whatis}" --output "${package_doc}/${tool}.1" "$<TARGET_FILE:${tool}>"
    COMMAND ${GZIP_EXECUTABLE} -9nf "${package_doc}/${tool}.1"
    DEPENDS ${tool}
    VERBATIM)
  list(APPEND man_pages "${package_doc}/${tool}.1.gz")
endforeach()
add_custom_target(authd_package_docs ALL DEPENDS "${package_doc}/changelog.gz" ${man_pages})
install(FILES "${package_doc}/changelog.gz" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
install(FILES ${man_pages} DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")

include(CPack)
