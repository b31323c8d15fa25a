package main

import "errors"

// setLogState asks the R2 daemon of instance to apply op ("enable",
// "disable" or "clear") to its forwarding-path log, through the Thrift Log
// API.
func setLogState(instance, op string) error {
	return errors.New("r2log: log API not wired yet")
}
