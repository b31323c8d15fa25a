//go:build linux

package daemon

import "github.com/r2go/r2/r2/api"

// The backend schedules output interfaces through the router it embeds
// (r2/router/qos.go).
var _ api.QoSBackend = (*backend)(nil)
