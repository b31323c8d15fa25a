package main

import (
	"encoding/binary"
	"io"
	"time"
)

// The pcap file format (https://www.tcpdump.org/manpages/pcap-savefile.5.txt
// describes it): a 24-byte file header, then a 16-byte header before each
// packet. The nanosecond variant of the magic number says that the
// sub-second field holds nanoseconds; tcpdump, tshark and Wireshark read it.
const (
	pcapMagicNano   = 0xa1b23c4d
	pcapVersionMaj  = 2
	pcapVersionMin  = 4
	pcapSnapLen     = 262144
	linktypeEther   = 1
	pcapFileHdrLen  = 24
	pcapRecordHdrLn = 16
)

// pcapWriter writes a pcap stream, little-endian, LINKTYPE_ETHERNET.
type pcapWriter struct {
	w   io.Writer
	hdr [pcapRecordHdrLn]byte
}

func newPcapWriter(w io.Writer) (*pcapWriter, error) {
	var h [pcapFileHdrLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], pcapMagicNano)
	le.PutUint16(h[4:], pcapVersionMaj)
	le.PutUint16(h[6:], pcapVersionMin)
	// 8: thiszone, 12: sigfigs: zero
	le.PutUint32(h[16:], pcapSnapLen)
	le.PutUint32(h[20:], linktypeEther)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &pcapWriter{w: w}, nil
}

// write appends one packet captured at t, origLen bytes long on the wire.
func (p *pcapWriter) write(t time.Time, data []byte, origLen int) error {
	le := binary.LittleEndian
	le.PutUint32(p.hdr[0:], uint32(t.Unix()))
	le.PutUint32(p.hdr[4:], uint32(t.Nanosecond()))
	le.PutUint32(p.hdr[8:], uint32(len(data)))
	le.PutUint32(p.hdr[12:], uint32(max(origLen, len(data))))
	if _, err := p.w.Write(p.hdr[:]); err != nil {
		return err
	}
	_, err := p.w.Write(data)
	return err
}
