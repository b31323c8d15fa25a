package api

import (
	"fmt"
	"net"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/r2go/r2/apis/graphapi"
	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/apis/logapi"
	"github.com/r2go/r2/apis/route"
)

// Client holds the three service clients of one connection to an R2 API
// server. They share the connection, so use them from one goroutine at a
// time.
type Client struct {
	Interface *intf.InterfaceClient
	Route     *route.RouteClient
	Log       *logapi.LogClient
	Graph     *graphapi.GraphClient

	trans thrift.TTransport
}

// Dial connects to an R2 API server at address on network ("unix" or "tcp")
// with the same transport and protocol configuration a server with options
// o uses (framed, strict binary, o's size limits); o.SocketTimeout bounds
// connecting and each read and write (the wait for a reply included).
func Dial(network, address string, o Options) (*Client, error) {
	conf := ThriftConfig(o)
	c, err := net.DialTimeout(network, address, conf.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	return NewClient(thrift.NewTSocketFromConnConf(c, conf), conf), nil
}

// NewClient makes a Client over an open transport (a TSocket, say).
func NewClient(t thrift.TTransport, conf *thrift.TConfiguration) *Client {
	framed := thrift.NewTFramedTransportConf(t, conf)
	proto := thrift.NewTBinaryProtocolConf(framed, conf)
	mux := func(service string) thrift.TClient {
		p := thrift.NewTMultiplexedProtocol(proto, service)
		return thrift.NewTStandardClient(p, p)
	}
	return &Client{
		Interface: intf.NewInterfaceClient(mux(ServiceInterface)),
		Route:     route.NewRouteClient(mux(ServiceRoute)),
		Log:       logapi.NewLogClient(mux(ServiceLog)),
		Graph:     graphapi.NewGraphClient(mux(ServiceGraph)),
		trans:     framed,
	}
}

// Close closes the connection.
func (c *Client) Close() error {
	if err := c.trans.Close(); err != nil {
		return fmt.Errorf("api: close: %w", err)
	}
	return nil
}
