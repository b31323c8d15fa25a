package daemon

// The drivers interfaces can be attached with: each registers itself
// (driver.Register) in its init. A new driver is one more import here.
import (
	_ "github.com/r2go/r2/r2/driver/afpacket"
	_ "github.com/r2go/r2/r2/driver/afxdp"
)
