// envctl-stamp: copies stdin to stdout, each line prefixed with the time it was read, in the
// form Docker's `logs --timestamps` uses (RFC 3339, UTC, nanoseconds, then a space). A process
// service's output goes through it into its log file, so `envctl logs --timestamps` / `--since`
// and the time-merged history work for processes as they do for containers.
//
// It ignores SIGTERM, SIGINT and SIGHUP: when the service's process group is stopped it keeps
// reading until the service's last write (its shutdown messages), and ends at end of input.
package main

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	in := bufio.NewReaderSize(os.Stdin, 64*1024)
	out := bufio.NewWriterSize(os.Stdout, 64*1024)
	start := true
	for {
		chunk, err := in.ReadSlice('\n')
		if len(chunk) > 0 {
			if start {
				out.WriteString(time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z") + " ")
			}
			out.Write(chunk)
			start = chunk[len(chunk)-1] == '\n'
			// Written at once when nothing more is waiting: a log is read while it is written.
			if in.Buffered() == 0 {
				out.Flush()
			}
		}
		if err == bufio.ErrBufferFull {
			continue // a line longer than the buffer: its rest follows, unstamped
		}
		if err != nil {
			if err != io.EOF {
				os.Stderr.WriteString("envctl-stamp: " + err.Error() + "\n")
			}
			out.Flush()
			return
		}
	}
}
