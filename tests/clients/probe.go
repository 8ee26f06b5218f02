// Command probe is Go's crypto/tls, as a Go program uses it by default, against one TLS server; it prints what
// happened as one JSON line: {"works": bool, "said": "ok" or Go's own error message}.
//
//	probe HOST PORT NAME [-ca FILE] [-cert CRT -key KEY] [-timeout 5s]
//
// It dials HOST:PORT with ServerName NAME (the name verified, and sent in SNI unless it is an address), trusting
// the system roots, or only FILE with -ca, and presenting CRT/KEY when given. After the handshake it sends
// GET / HTTP/1.0 and reads the status line: a TLS 1.3 server that refuses the client certificate says so only
// then. It exits 0 whatever the server did; non-zero is a bug in this harness (bad arguments, unreadable files).
//
// Standard library only, no go.mod: go build -o DIR/probe probe.go
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 4 {
		fail("usage: probe HOST PORT NAME [-ca FILE] [-cert CRT -key KEY] [-timeout 5s]")
	}
	host, port, name := os.Args[1], os.Args[2], os.Args[3]
	flags := flag.NewFlagSet("probe", flag.ExitOnError)
	ca := flags.String("ca", "", "trust only the certificates in this PEM file (default: the system roots)")
	cert := flags.String("cert", "", "client certificate (PEM)")
	key := flags.String("key", "", "client certificate's key (PEM)")
	timeout := flags.Duration("timeout", 5*time.Second, "for the connection, the handshake and the reply")
	_ = flags.Parse(os.Args[4:])
	if flags.NArg() > 0 || (*cert == "") != (*key == "") {
		fail("usage: probe HOST PORT NAME [-ca FILE] [-cert CRT -key KEY] [-timeout 5s]")
	}

	config := &tls.Config{ServerName: name}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fail(err.Error())
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in " + *ca)
		}
		config.RootCAs = pool
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fail(err.Error())
		}
		config.Certificates = []tls.Certificate{pair}
	}

	dialer := &net.Dialer{Timeout: *timeout}
	conn, err := tls.DialWithDialer(dialer, "tcp", net.JoinHostPort(host, port), config)
	if err != nil {
		report(false, err.Error())
		return
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(*timeout))
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", name); err != nil {
		report(false, err.Error())
		return
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		report(false, err.Error())
		return
	}
	if !strings.HasPrefix(line, "HTTP/") {
		report(false, fmt.Sprintf("the server answered %q, not HTTP", line))
		return
	}
	report(true, "ok")
}

func report(works bool, said string) {
	out, _ := json.Marshal(struct {
		Works bool   `json:"works"`
		Said  string `json:"said"`
	}{works, said})
	fmt.Println(string(out))
}

func fail(why string) {
	fmt.Fprintln(os.Stderr, "probe:", why)
	os.Exit(2)
}
