package main

import (
	"context"
	"fmt"

	"github.com/r2go/r2/utils/internal/client"
)

// setLogState asks the R2 daemon of instance to apply op ("enable",
// "disable" or "clear") to its forwarding-path log, through the Thrift Log
// API.
func setLogState(instance, op string) error {
	c, err := client.Dial(client.Target{Instance: instance})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	switch op {
	case "enable":
		err = c.Log.Enable(ctx)
	case "disable":
		err = c.Log.Disable(ctx)
	case "clear":
		err = c.Log.Clear(ctx)
	default:
		return fmt.Errorf("unknown log operation %q", op)
	}
	if err != nil {
		return fmt.Errorf("%s: %s", op, client.Message(err))
	}
	return nil
}
