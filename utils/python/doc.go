// Package python holds r2cfg.py, an example of configuring R2 from Python
// through its Thrift API, and a Go test that runs it against an API server
// with a fake backend. The test shows that the IDL and the server work with
// Thrift's Python library (Debian's python3-thrift) and Python code generated
// by Debian's thrift-compiler. It runs /usr/bin/python3, not the first
// python3 on PATH, which may not see Debian's packages. If the interpreter,
// its thrift module or the thrift compiler is missing, the test fails naming
// the Debian package (make test installs them); it never skips.
//
// Generated Python code is not committed; see r2cfg.py for the commands.
package python
