// Package packaging holds what installs R2 as a service, and its tests:
//
//   - r2.cfg.example: the commented example configuration, installed as
//     /etc/r2.cfg (a conffile in the Debian package);
//   - r2@.service, r2-exporter@.service, r2-follow@.service: systemd unit templates (instance
//     from the unit's instance name; @BINDIR@ and @SYSCONFDIR@ are
//     filled in by make install and mkdeb);
//   - postinst, postrm: the Debian package's scripts (daemon-reload only);
//   - mkdeb: the program `make deb` runs (nfpm as a library, a module of its
//     own).
//
// The tests run make install into a temporary DESTDIR, build the .deb,
// install it into a temporary root with dpkg --root, verify the units with
// systemd-analyze and run the installed daemon and utilities.
package packaging
