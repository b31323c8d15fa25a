// Package python holds r2cfg.py, an example of configuring R2 from Python
// through its Thrift API, and a Go test that runs it against an API server
// with a fake backend. The test shows that the IDL and the server work with
// Thrift's Python library (Debian's python3-thrift) and Python code generated
// by Debian's thrift-compiler; it runs when /usr/bin/python3 and thrift are
// installed and skips, saying what is missing, otherwise.
//
// Generated Python code is not committed; see r2cfg.py for the commands.
package python
