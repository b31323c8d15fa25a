package api

import (
	"context"
	"fmt"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/r2go/r2/apis/common"
	"github.com/r2go/r2/apis/intf"
	"github.com/r2go/r2/apis/logapi"
	"github.com/r2go/r2/apis/route"
	"github.com/r2go/r2/r2/ctl"
)

// core is what the three service handlers share: the backend, the lock that
// serializes calls into it, and the panic counter.
type core struct {
	b       Backend
	mu      sync.Mutex // serializes backend calls, like R2's context lock
	panics  atomic.Uint64
	logf    func(format string, args ...any)
	pageCap int      // most routes per Route.show page
	drivers []string // accepted add_if drivers besides ""
}

// apiErr makes the exception sent to the client for a request that failed
// validation.
func apiErr(format string, args ...any) error {
	return &common.ApiErr{Why: fmt.Sprintf(format, args...), Kind: common.ErrKind_INVALID}
}

// wrap turns a validation or backend error into an ApiErr; its kind comes
// from the ctl sentinel the error wraps (validation errors are invalid).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*common.ApiErr); ok {
		return e
	}
	k := ctl.KindOf(err)
	if k == ctl.KindUnknown {
		k = ctl.KindInvalid // the validators' own errors carry no kind
	}
	return &common.ApiErr{Why: err.Error(), Kind: common.ErrKind(k)}
}

// guard recovers a panic in a handler (or the backend below it) and turns it
// into an ApiErr, so that one bad request cannot take the daemon down. Use as
// `defer c.guard("add_if", &err)` with a named error result.
func (c *core) guard(method string, err *error) {
	if v := recover(); v != nil {
		c.panics.Add(1)
		c.logf("api: panic in %s: %v\n%s", method, v, debug.Stack())
		*err = &common.ApiErr{Why: fmt.Sprintf("internal error: %s: %v", method, v), Kind: common.ErrKind_INTERNAL}
	}
}

// call runs f with the backend lock held and turns its error into an ApiErr.
func (c *core) call(f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f()
	if err == nil {
		return nil
	}
	return &common.ApiErr{Why: err.Error(), Kind: common.ErrKind(ctl.KindOf(err))}
}

// ifHandler implements the Interface service.
type ifHandler struct{ *core }

var _ intf.Interface = ifHandler{}

func (h ifHandler) AddIf(_ context.Context, ifname string, ifindex int32, mac string, thread int32, driver string) (err error) {
	defer h.guard("add_if", &err)
	req := AddIf{Name: ifname, Ifindex: int(ifindex), Thread: int(thread), Driver: driver}
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	if ifindex < -1 || ifindex > MaxIfindex {
		return apiErr("interface %s: ifindex %d out of range; want 0 to %d, or -1 to pick a free one", ifname, ifindex, MaxIfindex)
	}
	if thread < -1 || thread > MaxThread {
		return apiErr("interface %s: thread %d out of range; want 0 to %d, or -1 to pick one", ifname, thread, MaxThread)
	}
	if driver != "" && !slices.Contains(h.drivers, driver) {
		return apiErr("interface %s: unknown driver %q; want one of %q (or \"\" for the default)", ifname, driver, h.drivers)
	}
	if req.MAC, err = ParseMAC(mac); err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	return h.call(func() error { return h.b.AddInterface(req) })
}

func (h ifHandler) AddIfThreads(_ context.Context, ifname string, ifindex int32, mac string, threads []int32, driver string) (err error) {
	defer h.guard("add_if_threads", &err)
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	if len(threads) == 0 || len(threads) > MaxThread+1 {
		return apiErr("interface %s: %d threads; want 1 to %d", ifname, len(threads), MaxThread+1)
	}
	req := AddIf{Name: ifname, Ifindex: int(ifindex), Thread: int(threads[0]), Driver: driver}
	for i, t := range threads {
		if t < 0 || t > MaxThread {
			return apiErr("interface %s: thread %d out of range; want 0 to %d", ifname, t, MaxThread)
		}
		if slices.Contains(threads[:i], t) {
			return apiErr("interface %s: thread %d given twice", ifname, t)
		}
		req.Threads = append(req.Threads, int(t))
	}
	if ifindex < -1 || ifindex > MaxIfindex {
		return apiErr("interface %s: ifindex %d out of range; want 0 to %d, or -1 to pick a free one", ifname, ifindex, MaxIfindex)
	}
	if driver != "" && !slices.Contains(h.drivers, driver) {
		return apiErr("interface %s: unknown driver %q; want one of %q (or \"\" for the default)", ifname, driver, h.drivers)
	}
	if req.MAC, err = ParseMAC(mac); err != nil {
		return apiErr("interface %s: %v", ifname, err)
	}
	return h.call(func() error { return h.b.AddInterface(req) })
}

func (h ifHandler) DelIf(_ context.Context, ifname string) (err error) {
	defer h.guard("del_if", &err)
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.DelInterface(ifname) })
}

func (h ifHandler) AddIP(_ context.Context, ifname, prefix string) (err error) {
	defer h.guard("add_ip", &err)
	p, err := h.ifAddr(ifname, prefix)
	if err != nil {
		return err
	}
	return h.call(func() error { return h.b.AddAddr(ifname, p) })
}

func (h ifHandler) DelIP(_ context.Context, ifname, prefix string) (err error) {
	defer h.guard("del_ip", &err)
	p, err := h.ifAddr(ifname, prefix)
	if err != nil {
		return err
	}
	return h.call(func() error { return h.b.DelAddr(ifname, p) })
}

func (h ifHandler) ifAddr(ifname, prefix string) (netip.Prefix, error) {
	if err := CheckIfname(ifname); err != nil {
		return netip.Prefix{}, wrap(err)
	}
	p, err := ParseIfAddr(prefix)
	if err != nil {
		return netip.Prefix{}, apiErr("interface %s: %v", ifname, err)
	}
	return p, nil
}

func (h ifHandler) SetHostOwned(_ context.Context, ifname string, on bool) (err error) {
	defer h.guard("set_host_owned", &err)
	if err := CheckIfname(ifname); err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.SetHostOwned(ifname, on) })
}

func (h ifHandler) Show(_ context.Context, ifname string) (_ []*intf.IfInfo, err error) {
	defer h.guard("show", &err)
	if ifname != "" {
		if err := CheckIfname(ifname); err != nil {
			return nil, wrap(err)
		}
	}
	var infos []IfInfo
	if err := h.call(func() (err error) { infos, err = h.b.Interfaces(ifname); return }); err != nil {
		return nil, err
	}
	out := make([]*intf.IfInfo, 0, len(infos))
	for _, i := range infos {
		addrs := make([]string, len(i.Addrs))
		for k, a := range i.Addrs {
			addrs[k] = a.String()
		}
		out = append(out, &intf.IfInfo{
			Name:       i.Name,
			Ifindex:    int32(i.Ifindex),
			LinuxIndex: int32(i.LinuxIndex),
			Mac:        i.MAC.String(),
			Mtu:        int32(i.MTU),
			Up:         i.Up,
			Addrs:      addrs,
			Thread:     int32(i.Thread),
			Driver:     i.Driver,
			RxPkts:     int64(i.RxPkts),
			TxPkts:     int64(i.TxPkts),
			RxDrops:    int64(i.RxDrops),
			TxDrops:    int64(i.TxDrops),
			HostOwned:  i.HostOwned,
		})
	}
	return out, nil
}

// routeHandler implements the Route service.
type routeHandler struct{ *core }

var _ route.Route = routeHandler{}

// parseEntry validates one route from the wire.
func parseEntry(e *route.RouteEntry, del bool) (Route, error) {
	if e == nil {
		return Route{}, fmt.Errorf("missing route")
	}
	if len(e.Paths) > 0 {
		paths := make([]Path, len(e.Paths))
		for i, p := range e.Paths {
			if p == nil {
				return Route{}, fmt.Errorf("route %s: missing path #%d", e.Prefix, i)
			}
			paths[i] = Path{Nexthop: p.Nexthop, Ifname: p.Ifname, Weight: int(p.Weight)}
		}
		return ParseMultipath(e.Prefix, paths)
	}
	return ParseRoute(e.Prefix, e.Nexthop, e.Ifname, e.Kind, del)
}

// parseBatch validates a batch; the error names the first bad route.
func parseBatch(es []*route.RouteEntry, del bool) ([]Route, error) {
	if len(es) > MaxBatch {
		return nil, fmt.Errorf("batch of %d routes; at most %d per call", len(es), MaxBatch)
	}
	rs := make([]Route, len(es))
	for i, e := range es {
		r, err := parseEntry(e, del)
		if err != nil {
			return nil, fmt.Errorf("route #%d of the batch: %v", i, err)
		}
		rs[i] = r
	}
	return rs, nil
}

func entry(r Route) *route.RouteEntry {
	e := &route.RouteEntry{Prefix: r.Prefix.String(), Ifname: r.Ifname, Kind: r.Kind}
	if r.NextHop.IsValid() {
		e.Nexthop = r.NextHop.String()
	}
	for _, p := range r.Paths {
		pe := &route.PathEntry{Ifname: p.Ifname, Weight: int32(p.Weight)}
		if p.NextHop.IsValid() {
			pe.Nexthop = p.NextHop.String()
		}
		e.Paths = append(e.Paths, pe)
	}
	return e
}

func (h routeHandler) AddRoute(_ context.Context, e *route.RouteEntry) (err error) {
	defer h.guard("add_route", &err)
	r, err := parseEntry(e, false)
	if err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.AddRoutes([]Route{r}) })
}

func (h routeHandler) DelRoute(_ context.Context, e *route.RouteEntry) (err error) {
	defer h.guard("del_route", &err)
	r, err := parseEntry(e, true)
	if err != nil {
		return wrap(err)
	}
	return h.call(func() error { return h.b.DelRoutes([]Route{r}) })
}

func (h routeHandler) AddBatch(_ context.Context, es []*route.RouteEntry) (err error) {
	defer h.guard("add_batch", &err)
	rs, err := parseBatch(es, false)
	if err != nil {
		return wrap(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return h.call(func() error { return h.b.AddRoutes(rs) })
}

func (h routeHandler) DelBatch(_ context.Context, es []*route.RouteEntry) (err error) {
	defer h.guard("del_batch", &err)
	rs, err := parseBatch(es, true)
	if err != nil {
		return wrap(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return h.call(func() error { return h.b.DelRoutes(rs) })
}

func (h routeHandler) Lookup(_ context.Context, address string) (_ *route.RouteEntry, err error) {
	defer h.guard("lookup", &err)
	a, err := ParseAddr("address", address)
	if err != nil {
		return nil, wrap(err)
	}
	var r Route
	if err := h.call(func() (err error) { r, err = h.b.LookupRoute(a); return }); err != nil {
		return nil, err
	}
	return entry(r), nil
}

func (h routeHandler) Show(_ context.Context, offset, limit int64) (_ *route.RoutePage, err error) {
	defer h.guard("show", &err)
	if offset < 0 {
		return nil, apiErr("negative offset %d", offset)
	}
	if limit < 0 {
		return nil, apiErr("negative limit %d", limit)
	}
	if limit == 0 || limit > int64(h.pageCap) {
		limit = int64(h.pageCap)
	}
	if offset > 1<<40 { // keeps int conversions exact on every platform
		offset = 1 << 40
	}
	var total int
	var rs []Route
	if err := h.call(func() (err error) { total, rs, err = h.b.Routes(int(offset), int(limit)); return }); err != nil {
		return nil, err
	}
	if int64(len(rs)) > limit {
		rs = rs[:limit] // a backend returning too much must not make the reply too big to send
	}
	page := &route.RoutePage{Total: int64(total), Routes: make([]*route.RouteEntry, len(rs))}
	for i, r := range rs {
		page.Routes[i] = entry(r)
	}
	return page, nil
}

// logHandler implements the Log service.
type logHandler struct{ *core }

var _ logapi.Log = logHandler{}

func (h logHandler) Enable(context.Context) (err error) {
	defer h.guard("enable", &err)
	return h.call(h.b.LogEnable)
}

func (h logHandler) Disable(context.Context) (err error) {
	defer h.guard("disable", &err)
	return h.call(h.b.LogDisable)
}

func (h logHandler) Clear(context.Context) (err error) {
	defer h.guard("clear", &err)
	return h.call(h.b.LogClear)
}

func (h logHandler) Enabled(context.Context) (on bool, err error) {
	defer h.guard("enabled", &err)
	err = h.call(func() error { on = h.b.LogEnabled(); return nil })
	return on, err
}
