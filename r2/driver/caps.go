package driver

// ModeReporter is implemented by drivers that run in one of several modes
// (AF_XDP: zero-copy, copy or generic XDP) and say which.
type ModeReporter interface{ ActiveMode() string }
