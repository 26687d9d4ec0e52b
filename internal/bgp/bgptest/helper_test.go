package bgptest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/bgp"
)

// helperEnv makes the test binary a speaker instead of running tests: the
// test starts it with `ip netns exec`, so that GoBGP's goroutines (and the
// sockets they open) all live in the speaker's namespace, which a thread
// switched with setns cannot promise.
const (
	helperEnv = "L3DSR_BGPTEST_SPEAKER"
	configEnv = "L3DSR_BGPTEST_CONFIG"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runSpeaker(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// runSpeaker starts a speaker from configEnv and runs the commands it reads,
// one a line, answering each with "ok[ json]" or "err message":
//
//	announce VIP [NEXTHOP]
//	withdraw VIP
//	announce-range FIRST N [NEXTHOP]   (N consecutive addresses)
//	withdraw-range FIRST N
//	sessions
//	stop
func runSpeaker(in io.Reader, out io.Writer) int {
	var c bgp.Config
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &c); err != nil {
		fmt.Fprintln(out, "err", err)
		return 1
	}
	c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx := context.Background()
	s, err := bgp.Start(ctx, c)
	if err != nil {
		fmt.Fprintln(out, "err", err)
		return 1
	}
	fmt.Fprintln(out, "ok")
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		reply, err := command(ctx, s, f)
		switch {
		case err != nil:
			fmt.Fprintln(out, "err", err)
		case reply != "":
			fmt.Fprintln(out, "ok", reply)
		default:
			fmt.Fprintln(out, "ok")
		}
		if f[0] == "stop" {
			return 0
		}
	}
	s.Stop(ctx)
	return 0
}

func command(ctx context.Context, s *bgp.Speaker, f []string) (string, error) {
	arg := func(i int) netip.Addr {
		if i >= len(f) {
			return netip.Addr{}
		}
		a, _ := netip.ParseAddr(f[i])
		return a
	}
	switch f[0] {
	case "announce":
		return "", s.Announce(ctx, arg(1), arg(2))
	case "withdraw":
		return "", s.Withdraw(ctx, arg(1))
	case "announce-range", "withdraw-range":
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return "", err
		}
		vip := arg(1)
		for range n {
			if f[0] == "announce-range" {
				err = s.Announce(ctx, vip, arg(3))
			} else {
				err = s.Withdraw(ctx, vip)
			}
			if err != nil {
				return "", err
			}
			vip = vip.Next()
		}
		return "", nil
	case "sessions":
		ss, err := s.Sessions(ctx)
		if err != nil {
			return "", err
		}
		b, err := json.Marshal(ss)
		return string(b), err
	case "stop":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return "", s.Stop(ctx)
	}
	return "", fmt.Errorf("unknown command %q", f[0])
}
