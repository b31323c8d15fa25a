// Package vnet writes the virtio_net_hdr that Linux's AF_PACKET sockets
// exchange with PACKET_VNET_HDR, and sends frames that carry one.
//
// The header tells the kernel what a frame still needs: a GSO super-frame
// (packet.GSO.Size set) is cut into segments by the kernel or the
// device's TSO, and a frame whose TCP or UDP checksum was left to finish
// (packet.GSONeedsCsum) has it finished by the kernel or the device. The
// AF_PACKET driver writes it in front of the frames it sends through its
// own sockets. Sender is for drivers that cannot send such frames
// themselves (AF_XDP has no segmentation and, in copy mode, no checksum
// offload): a transmit-only AF_PACKET socket of the interface that takes
// them whole, so that a TCP super-frame R2 built on receive (software
// GRO) leaves as one frame instead of forty, and the receiving host
// processes it once.
package vnet
