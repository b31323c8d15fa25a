package names

// QoS is the name of the scheduling node of interface ifname, inserted in
// front of IfNode(ifname) while the interface has QoS configured.
func QoS(ifname string) string { return "QoS:" + ifname }
