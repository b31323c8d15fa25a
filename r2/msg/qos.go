package msg

import "github.com/r2go/r2/fwd"

// QoS tells the QoS node of interface Ifname to schedule by Config from now
// on (nil: no scheduling; what it queues is freed and counted). Config is
// immutable; the interface's owner thread reconciles its scheduler with it.
type QoS struct {
	Ifname string
	Config *fwd.QoS
}

func (QoS) isMsg() {}
