// Package s3test starts a real S3 server for tests and the bench:
// versitygw (github.com/versity/versitygw) over a temporary folder, on a
// free loopback port, with one bucket. versitygw is pinned in the tools
// module (tools/go.mod) and built once into the user's cache folder.
package s3test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the versitygw that tools/go.mod pins.
const Version = "v1.8.0"

// Hint says what to do when versitygw cannot be built or started.
const Hint = "versitygw is built from tools/go.mod (`make bin/versitygw`, or by the tests into the user's cache folder): check that `go build -C tools github.com/versity/versitygw/cmd/versitygw` works (the Go module proxy must be reachable the first time)"

// Credentials of the server's root user, as the AWS environment variables
// hand them to the product.
const (
	AccessKey = "taosynctest"
	SecretKey = "taosynctest-secret-key"
	Region    = "us-east-1"
	Bucket    = "taosync"
)

// Server is a running versitygw.
type Server struct {
	// Dir is the folder the server keeps its buckets in: the bucket's
	// objects are files under Dir/Bucket.
	Dir      string
	Endpoint string
	bin      string
	port     int
	cmd      *exec.Cmd
	exited   chan struct{}
}

// URL is the --blobs setting that names the server's bucket.
func (s *Server) URL() string {
	return "s3://" + Bucket + "?endpoint=" + s.Endpoint + "&use_path_style=true&region=" + Region
}

// Env is the AWS environment that hands the product the credentials.
func Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_REGION=" + Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Binary returns the versitygw program: the one TAOSYNC_VERSITYGW names
// (`make test` builds it first), else one built once into the user's
// cache folder.
func Binary() (string, error) {
	if p := os.Getenv("TAOSYNC_VERSITYGW"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("TAOSYNC_VERSITYGW: %w", err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "taosync", "versitygw-"+Version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	tools, err := toolsDir()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	// Build beside, then rename: two test binaries building at once
	// both end with a whole program.
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.Command("go", "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
	cmd.Dir = tools
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build versitygw: %w: %s", err, lastLine(out))
	}
	return bin, os.Rename(tmp, bin)
}

func lastLine(b []byte) string {
	s := string(b)
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	if i := len(s) - 300; i > 0 {
		s = s[i:]
	}
	return s
}

// toolsDir finds the tools module, above the working folder.
func toolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "go.mod")); err == nil {
			return filepath.Join(dir, "tools"), nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("no tools/go.mod above the working folder")
		}
		dir = up
	}
}

// Start builds and starts versitygw over dir and creates the bucket.
func Start(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Dir: dir, Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), bin: bin, port: port}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	if err := s.createBucket(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Restart starts the server again after Stop, on the same port and folder.
func (s *Server) Restart() error {
	cmd := exec.Command(s.bin, "--access", AccessKey, "--secret", SecretKey, "--region", Region,
		"--port", "127.0.0.1:"+strconv.Itoa(s.port), "--quiet", "posix", s.Dir)
	cmd.Env = append(os.Environ(), Env()...)
	log, err := os.Create(filepath.Join(filepath.Dir(s.Dir), "versitygw.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start versitygw: %w", err)
	}
	log.Close()
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			out, _ := os.ReadFile(filepath.Join(filepath.Dir(s.Dir), "versitygw.log"))
			return fmt.Errorf("versitygw exited at start: %s", lastLine(out))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return errors.New("versitygw did not listen within 30s")
		}
	}
}

// Stop stops the server; its folder stays.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

func (s *Server) createBucket() error {
	c := s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", Bucket, err)
	}
	return nil
}

// ForTest starts a server for t, sets the AWS environment for the
// product's code in this process, and stops the server at t's end. It
// fails t with Hint when versitygw cannot be built or started.
func ForTest(t testing.TB) *Server {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "s3")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Start(dir)
	if err != nil {
		t.Fatalf("s3test: %v\nhint: %s", err, Hint)
	}
	t.Cleanup(s.Stop)
	for _, kv := range Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return s
}
