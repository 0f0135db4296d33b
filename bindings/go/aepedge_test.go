package aepedge

import (
	"errors"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const event = `{"event":{"xdm":{"identityMap":{"Email_LC_SHA256":[{"id":"0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b","primary":true}]},"eventType":"web.webpagedetails.pageViews","web":{"webPageDetails":{"URL":"https://alloystore.dev/","name":"home-demo-Home Page"}},"timestamp":"2021-08-09T14:09:20.859Z"},"data":{"prop1":"custom value"}}}`

func config(t *testing.T, datastream string) string {
	base := os.Getenv("AEP_EDGE_BASE_URL")
	if base == "" {
		t.Fatal("set AEP_EDGE_BASE_URL (bindings/go/test.sh starts an emulator)")
	}
	return `{"datastreamId":"` + datastream + `","baseUrl":"` + base + `","retry":{"baseDelayMs":10}}`
}

func newClient(t *testing.T, datastream string) *Client {
	c, err := New(config(t, datastream))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(5 * time.Second) })
	return c
}

func TestVersion(t *testing.T) {
	if ABIVersion() != 1 || strings.Count(Version(), ".") != 2 {
		t.Fatalf("version %q, ABI %d", Version(), ABIVersion())
	}
}

func TestInteractReadsHandles(t *testing.T) {
	c := newClient(t, "known-ds")
	result, err := c.Interact(event)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"httpStatus":200`, `"type":"state:store"`, `"type":"identity:result"`} {
		if !strings.Contains(result, want) {
			t.Errorf("result lacks %s: %s", want, result)
		}
	}
	session, err := c.Session()
	if err != nil || !strings.Contains(session, `"ecid":"`) {
		t.Fatalf("session %s, %v", session, err)
	}
	if err := c.ResetSession(); err != nil {
		t.Fatal(err)
	}
	if session, _ := c.Session(); !strings.Contains(session, `"ecid":null`) {
		t.Fatalf("after reset: %s", session)
	}
}

func TestUnknownDatastreamIsTypedHTTPError(t *testing.T) {
	c := newClient(t, "no-such-datastream")
	_, err := c.Interact(event)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %v", err)
	}
	if e.Status != HTTPError || e.Kind != "http" || e.HTTPStatus != 400 || e.Code != "EXEG-0003-400" {
		t.Fatalf("got %+v", e)
	}
	if !errors.Is(err, HTTPError) || errors.Is(err, Timeout) {
		t.Fatal("errors.Is matches by status")
	}
	if e.RequestID == "" {
		t.Fatal("the error names the request id sent")
	}
}

func TestAsyncChannels(t *testing.T) {
	c := newClient(t, "known-ds")
	unknown := newClient(t, "no-such-datastream")
	chans := []<-chan Result{c.InteractAsync(event), c.InteractAsync(event), unknown.InteractAsync(event)}
	for i, ch := range chans[:2] {
		select {
		case r := <-ch:
			if r.Err != nil || !strings.Contains(r.JSON, `"httpStatus":200`) {
				t.Errorf("call %d: %v %s", i, r.Err, r.JSON)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no result within 30 s")
		}
	}
	r := <-chans[2]
	var e *Error
	if !errors.As(r.Err, &e) || e.Code != "EXEG-0003-400" {
		t.Fatalf("got %v", r.Err)
	}
}

func TestRefusedConfigAndRequest(t *testing.T) {
	_, err := New(`{"datastreamId":"d","colour":1}`)
	if !errors.Is(err, InvalidConfig) || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("got %v", err)
	}
	c := newClient(t, "known-ds")
	_, err = c.Interact(`{"evnt":{}}`)
	var e *Error
	if !errors.As(err, &e) || e.Status != InvalidRequest || e.HTTPStatus != 0 {
		t.Fatalf("got %v", err)
	}
	// A Go string with a NUL is cut there by C: still a clear error, no crash.
	if _, err := c.Interact("{\x00}"); !errors.Is(err, InvalidJSON) {
		t.Fatalf("got %v", err)
	}
}

func TestConcurrentCallsAndClose(t *testing.T) {
	c, err := New(config(t, "known-ds"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				if _, err := c.Interact(event); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	report, err := c.Close(5 * time.Second)
	if err != nil || report.TimedOut || report.InFlight != 0 {
		t.Fatalf("close: %+v %v", report, err)
	}
	if _, err := c.Interact(event); !errors.Is(err, Closed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := c.Close(time.Second); err != nil {
		t.Fatal("Close is idempotent")
	}
}

func TestCloseIsBoundedWhileACallIsSlow(t *testing.T) {
	// The emulator answers the next request after 1.5 s.
	resp, err := http.Post(os.Getenv("AEP_EDGE_BASE_URL")+"/__emulator/faults", "application/json",
		strings.NewReader(`{"delayMs":1500,"count":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fault: %v %v", resp, err)
	}
	resp.Body.Close()
	c, err := New(config(t, "known-ds"))
	if err != nil {
		t.Fatal(err)
	}
	slow := c.InteractAsync(event)
	time.Sleep(200 * time.Millisecond)
	started := time.Now()
	report, err := c.Close(100 * time.Millisecond)
	if err != nil || !report.TimedOut || report.InFlight != 1 {
		t.Fatalf("close: %+v %v", report, err)
	}
	if waited := time.Since(started); waited > time.Second {
		t.Fatalf("close took %v", waited)
	}
	r := <-slow
	if r.Err != nil && !errors.Is(r.Err, Closed) {
		t.Fatalf("the slow call ended with %v", r.Err)
	}
}

func TestFinalizerFreesForgottenClients(t *testing.T) {
	for i := 0; i < 50; i++ {
		if _, err := New(config(t, "known-ds")); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.GC()
}
