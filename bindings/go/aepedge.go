// Package aepedge is a Go binding of the aep-edge C ABI (cgo): a client of the
// Adobe Experience Platform Edge Network Server API.
//
//	client, err := aepedge.New(`{"datastreamId": "YOUR_DATASTREAM_ID"}`)
//	if err != nil { ... }
//	defer client.Close(5 * time.Second)
//	result, err := client.Interact(`{"event": {"xdm": {}}}`)
//	var e *aepedge.Error
//	if errors.As(err, &e) { fmt.Println(e.Kind, e.HTTPStatus, e.Code) }
//
//	select {
//	case r := <-client.InteractAsync(request): use(r.JSON, r.Err)
//	case <-ctx.Done():
//	}
//
// JSON stays text. A Client is safe for concurrent use. Close it when done; a
// finalizer frees a forgotten one, as a safety net only.
//
// Building: cgo needs libaep_edge. With scripts/install.sh into a system prefix
// nothing else is needed; elsewhere set CGO_LDFLAGS="-L$PREFIX/lib -Wl,-rpath,$PREFIX/lib"
// (and CGO_CFLAGS="-I$PREFIX/include" outside this repository).
package aepedge

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -laep_edge
#include <stdlib.h>
#include "aep_edge.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// Status is an aep_edge_status number. A number not listed is still a failure.
type Status uint32

// The statuses of aep_edge.h.
const (
	OK              Status = 0
	NullArgument    Status = 1
	InvalidUTF8     Status = 2
	InvalidJSON     Status = 3
	InvalidConfig   Status = 4
	InvalidRequest  Status = 5
	TransportError  Status = 6
	Timeout         Status = 7
	HTTPError       Status = 8
	AuthError       Status = 9
	InvalidResponse Status = 10
	QueueFull       Status = 11
	Closed          Status = 12
	StorageError    Status = 13
	ConsentDenied   Status = 14
	NotReady        Status = 15
	Panic           Status = 99
)

// Error is every failure of the library: the status and the error object's facts.
// errors.Is(err, aepedge.HTTPError) matches by status.
type Error struct {
	Status     Status
	Kind       string // "http", "transport", "timeout", "invalid_request", ...
	Message    string
	HTTPStatus int    // 0 when no HTTP answer applies
	Code       string // e.g. "EXEG-0003-400", or ""
	Retryable  bool
	RequestID  string
	JSON       string // the whole {"error": {...}} object
}

func (e *Error) Error() string {
	return fmt.Sprintf("aep-edge %s (status %d): %s", e.Kind, e.Status, e.Message)
}

// Is makes errors.Is(err, aepedge.Timeout) true for an *Error of that status.
func (e *Error) Is(target error) bool {
	s, ok := target.(Status)
	return ok && s == e.Status
}

// Error lets a Status be the target of errors.Is.
func (s Status) Error() string { return fmt.Sprintf("aep-edge status %d", uint32(s)) }

// newError is the one place a status becomes a Go error.
func newError(status Status, text string) *Error {
	var body struct {
		Error struct {
			Kind       string  `json:"kind"`
			Message    string  `json:"message"`
			HTTPStatus *int    `json:"httpStatus"`
			Code       *string `json:"code"`
			Retryable  bool    `json:"retryable"`
			RequestID  *string `json:"requestId"`
		} `json:"error"`
	}
	e := &Error{Status: status, JSON: text, Kind: "unknown", Message: text}
	if json.Unmarshal([]byte(text), &body) == nil && body.Error.Kind != "" {
		e.Kind, e.Message, e.Retryable = body.Error.Kind, body.Error.Message, body.Error.Retryable
		if body.Error.HTTPStatus != nil {
			e.HTTPStatus = *body.Error.HTTPStatus
		}
		if body.Error.Code != nil {
			e.Code = *body.Error.Code
		}
		if body.Error.RequestID != nil {
			e.RequestID = *body.Error.RequestID
		}
	}
	return e
}

// take copies and frees a string the library returned.
func take(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.aep_edge_string_free(s)
	return C.GoString(s)
}

func check(status C.aep_edge_status, out *C.char) (string, error) {
	text := take(out)
	if Status(status) != OK {
		return "", newError(Status(status), text)
	}
	return text, nil
}

// Client is one Edge Network client, shared by every goroutine.
type Client struct {
	// Read-held by every call, write-held by the free in Close: free never races a call.
	mu     sync.RWMutex
	handle *C.aep_edge_client
}

// New creates a client from its config JSON (design.md §3.1).
func New(configJSON string) (*Client, error) {
	config := C.CString(configJSON)
	defer C.free(unsafe.Pointer(config))
	var handle *C.aep_edge_client
	var errJSON *C.char
	if _, err := check(C.aep_edge_client_new(config, &handle, &errJSON), errJSON); err != nil {
		return nil, err
	}
	c := &Client{handle: handle}
	runtime.SetFinalizer(c, (*Client).free)
	return c, nil
}

var errClosed = `{"error":{"kind":"closed","status":12,"message":"the client was closed"}}`

type requestFn func(*C.aep_edge_client, *C.char, **C.char) C.aep_edge_status

func (c *Client) request(fn requestFn, requestJSON string) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return "", newError(Closed, errClosed)
	}
	request := C.CString(requestJSON)
	defer C.free(unsafe.Pointer(request))
	var out *C.char
	return check(fn(c.handle, request, &out), out)
}

// Interact sends POST /ee/v2/interact and returns the result JSON.
func (c *Client) Interact(requestJSON string) (string, error) {
	return c.request(func(h *C.aep_edge_client, r *C.char, o **C.char) C.aep_edge_status {
		return C.aep_edge_interact(h, r, o)
	}, requestJSON)
}

// Collect sends POST /ee/v2/collect at once and returns the result JSON.
func (c *Client) Collect(requestJSON string) (string, error) {
	return c.request(func(h *C.aep_edge_client, r *C.char, o **C.char) C.aep_edge_status {
		return C.aep_edge_collect(h, r, o)
	}, requestJSON)
}

// SetConsent sends POST /ee/v1/privacy/set-consent and returns the result JSON.
func (c *Client) SetConsent(requestJSON string) (string, error) {
	return c.request(func(h *C.aep_edge_client, r *C.char, o **C.char) C.aep_edge_status {
		return C.aep_edge_set_consent(h, r, o)
	}, requestJSON)
}

// Result is what an async call delivers on its channel: the result JSON, or the error.
type Result struct {
	JSON string
	Err  error
}

// async runs call on a goroutine and delivers its one Result on a buffered
// channel, so a caller that stops listening leaks nothing.
func async(call func() (string, error)) <-chan Result {
	done := make(chan Result, 1)
	go func() {
		json, err := call()
		done <- Result{JSON: json, Err: err}
	}()
	return done
}

// InteractAsync is Interact without waiting: one Result arrives on the channel.
func (c *Client) InteractAsync(requestJSON string) <-chan Result {
	return async(func() (string, error) { return c.Interact(requestJSON) })
}

// CollectAsync is Collect without waiting.
func (c *Client) CollectAsync(requestJSON string) <-chan Result {
	return async(func() (string, error) { return c.Collect(requestJSON) })
}

// SetConsentAsync is SetConsent without waiting.
func (c *Client) SetConsentAsync(requestJSON string) <-chan Result {
	return async(func() (string, error) { return c.SetConsent(requestJSON) })
}

// SetAccessToken replaces the static token of token auth.
func (c *Client) SetAccessToken(token string) error {
	_, err := c.request(func(h *C.aep_edge_client, r *C.char, o **C.char) C.aep_edge_status {
		return C.aep_edge_client_set_access_token(h, r, o)
	}, token)
	return err
}

// Session returns the session view JSON (ECID, location hint, consent, state entries).
func (c *Client) Session() (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return "", newError(Closed, errClosed)
	}
	var out *C.char
	return check(C.aep_edge_session_get(c.handle, &out), out)
}

// ResetSession forgets the visitor (kiosk: the next one starts fresh).
func (c *Client) ResetSession() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.handle == nil {
		return newError(Closed, errClosed)
	}
	var out *C.char
	_, err := check(C.aep_edge_session_reset(c.handle, &out), out)
	return err
}

// CloseReport is what Close saw.
type CloseReport struct {
	InFlight int  `json:"inFlight"`
	WaitedMs int  `json:"waitedMs"`
	TimedOut bool `json:"-"`
}

// Close refuses new calls, stops retries, waits up to timeout for calls in
// flight, then frees the client (after the last call using it has returned,
// also when that is past the timeout). It may run while other goroutines are
// inside calls and returns within timeout. Idempotent: a second Close returns
// a zero report.
func (c *Client) Close(timeout time.Duration) (CloseReport, error) {
	c.mu.RLock()
	handle := c.handle
	var report CloseReport
	var status Status
	var text string
	if handle != nil {
		ms := timeout.Milliseconds()
		if ms < 0 {
			ms = 0
		} else if ms > 0xFFFFFFFF {
			ms = 0xFFFFFFFF
		}
		var out *C.char
		status = Status(C.aep_edge_client_close(handle, C.uint32_t(ms), &out))
		text = take(out)
	}
	c.mu.RUnlock()
	if handle == nil {
		return report, nil
	}
	if status == Timeout {
		// Calls still on the wire hold the read lock: free after them,
		// without holding Close past its timeout.
		go c.free()
	} else {
		c.free()
	}
	if status != OK && status != Timeout {
		return report, newError(status, text)
	}
	_ = json.Unmarshal([]byte(text), &report)
	report.TimedOut = status == Timeout
	return report, nil
}

// free releases the handle once no call holds it (Close, or the finalizer).
func (c *Client) free() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.handle != nil {
		C.aep_edge_client_free(c.handle)
		c.handle = nil
	}
	runtime.SetFinalizer(c, nil)
}

// Version is the library version, "X.Y.Z".
func Version() string { return C.GoString(C.aep_edge_version()) }

// ABIVersion is the C ABI version (1).
func ABIVersion() uint32 { return uint32(C.aep_edge_abi_version()) }
