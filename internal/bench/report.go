package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure statuses.
const (
	statusPass        = "pass"
	statusMiss        = "miss"
	statusInfo        = "info" // measured, no target
	statusNotMeasured = "not measured"
)

// Figure is one measured figure beside its target and its baseline.
//
// A target is a bound on the value (Min or Max), on the ratio to the
// baseline (RatioMin or RatioMax), or both; Status is pass only if every
// bound holds. Ratio is Value / Baseline.Value: for a rate, the share of
// the baseline's speed reached; for a size or a time, the share of the
// baseline's spent.
type Figure struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Value    float64   `json:"value"`
	Unit     string    `json:"unit"`
	Min      *float64  `json:"target_min,omitempty"`
	Max      *float64  `json:"target_max,omitempty"`
	Baseline *Baseline `json:"baseline,omitempty"`
	Ratio    *float64  `json:"ratio,omitempty"`
	RatioMin *float64  `json:"ratio_min,omitempty"`
	RatioMax *float64  `json:"ratio_max,omitempty"`
	Status   string    `json:"status"`
	// Misses names each bound not met.
	Misses []string `json:"misses,omitempty"`
	// Seconds (wall), CPUSeconds (user and system), MaxRSSMiB and
	// CPUPressure (see step) describe the measured process, when one.
	Seconds     float64 `json:"seconds,omitempty"`
	CPUSeconds  float64 `json:"cpu_seconds,omitempty"`
	MaxRSSMiB   float64 `json:"max_rss_mib,omitempty"`
	CPUPressure float64 `json:"cpu_pressure,omitempty"`
	Note        string  `json:"note,omitempty"`
}

// of records the measured process's figures.
func (f Figure) of(s step) Figure {
	f.Seconds, f.CPUSeconds, f.MaxRSSMiB, f.CPUPressure = s.Seconds(), s.CPU.Seconds(), s.RSSMiB(), s.CPUPressure
	return f
}

// Baseline is what a figure is compared with, measured in the same run.
type Baseline struct {
	Name       string  `json:"name"`
	Value      float64 `json:"value"`
	Unit       string  `json:"unit"`
	Seconds    float64 `json:"seconds,omitempty"`
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

func ptr(v float64) *float64 { return &v }

// judge sets the ratio and the status from the bounds.
func (f *Figure) judge() {
	if f.Status == statusNotMeasured {
		return
	}
	if f.Baseline != nil && f.Baseline.Value > 0 {
		f.Ratio = ptr(f.Value / f.Baseline.Value)
	}
	bounded := f.Min != nil || f.Max != nil || f.RatioMin != nil || f.RatioMax != nil
	if !bounded {
		f.Status = statusInfo
		return
	}
	f.Misses = nil
	if f.Min != nil && !(f.Value >= *f.Min) {
		f.Misses = append(f.Misses, fmt.Sprintf("value below %s", num(*f.Min)))
	}
	if f.Max != nil && !(f.Value <= *f.Max) {
		f.Misses = append(f.Misses, fmt.Sprintf("value above %s", num(*f.Max)))
	}
	if f.RatioMin != nil && (f.Ratio == nil || !(*f.Ratio >= *f.RatioMin)) {
		f.Misses = append(f.Misses, fmt.Sprintf("ratio below %s", num(*f.RatioMin)))
	}
	if f.RatioMax != nil && (f.Ratio == nil || !(*f.Ratio <= *f.RatioMax)) {
		f.Misses = append(f.Misses, fmt.Sprintf("ratio above %s", num(*f.RatioMax)))
	}
	f.Status = statusPass
	if len(f.Misses) > 0 {
		f.Status = statusMiss
	}
}

// target is the figure's bounds in words.
func (f *Figure) target() string {
	var parts []string
	if f.Min != nil {
		parts = append(parts, "≥ "+num(*f.Min))
	}
	if f.Max != nil {
		parts = append(parts, "≤ "+num(*f.Max))
	}
	if f.RatioMin != nil {
		parts = append(parts, "ratio ≥ "+num(*f.RatioMin))
	}
	if f.RatioMax != nil {
		parts = append(parts, "ratio ≤ "+num(*f.RatioMax))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// num formats a figure: thousands separated, at most three significant
// decimals for small values.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		if neg {
			return "-" + b.String()
		}
		return b.String()
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// count formats a whole number with thousands separators.
func count[T int | int64](n T) string {
	if n < 1000 && n > -1000 {
		return fmt.Sprint(n)
	}
	return num(float64(n))
}

// Machine is what the run ran on.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemoryMiB  int64  `json:"memory_mib"`
	Kernel     string `json:"kernel"`
	Filesystem string `json:"filesystem"`
	Go         string `json:"go"`
	Zstd       string `json:"zstd"`
	Age        string `json:"age"`
}

// Contention describes the load on the machine over the run.
type Contention struct {
	LoadAverageStart string `json:"load_average_start"`
	LoadAverageEnd   string `json:"load_average_end"`
	// CPUPressure and IOPressure are the shares of the run's wall time
	// during which some task waited for a CPU or for I/O (Linux PSI).
	CPUPressure float64 `json:"cpu_pressure"`
	IOPressure  float64 `json:"io_pressure"`
	cpu0, io0   int64
}

func startContention() Contention {
	return Contention{LoadAverageStart: loadAverage(), cpu0: pressureTotal("cpu"), io0: pressureTotal("io")}
}

func (c *Contention) finish(elapsed time.Duration) {
	c.LoadAverageEnd = loadAverage()
	us := float64(elapsed.Microseconds())
	if n := pressureTotal("cpu"); c.cpu0 >= 0 && n >= c.cpu0 && us > 0 {
		c.CPUPressure = float64(n-c.cpu0) / us
	}
	if n := pressureTotal("io"); c.io0 >= 0 && n >= c.io0 && us > 0 {
		c.IOPressure = float64(n-c.io0) / us
	}
}

func loadAverage() string {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// report is a whole run.
type report struct {
	Size       string    `json:"size"`
	Started    time.Time `json:"started"`
	Seconds    float64   `json:"seconds"`
	Commit     string    `json:"commit,omitempty"`
	Machine    Machine   `json:"machine"`
	Takers     int       `json:"test_takers_in_scope"`
	Executions int       `json:"executions"`
	Packages   []int64   `json:"package_bytes"`
	// Contention is how busy the machine was with other work during the
	// run: the figures are wall times.
	Contention Contention `json:"contention"`
	Figures    []*Figure  `json:"figures"`
	// Extras are measured figures without a target: setup rates, sizes,
	// peak memory of the other steps.
	Extras []*Figure `json:"extras"`
	Error  string    `json:"error,omitempty"`
}

func newReport(o options, work string) *report {
	ctx := context.Background()
	return &report{
		Size: o.size, Started: time.Now().UTC().Truncate(time.Second), Commit: commitOf(o.root),
		Takers: o.takers, Executions: o.executions, Packages: o.packages, Contention: startContention(),
		Machine: Machine{
			CPUs:       runtime.NumCPU(),
			CPUModel:   cpuModel(),
			MemoryMiB:  memTotal() / mib,
			Kernel:     strings.TrimSpace(readString("/proc/sys/kernel/osrelease")),
			Filesystem: filesystemOf(work),
			Go:         runtime.Version(),
			Zstd:       strings.Trim(toolVersion(ctx, "zstd", "--version"), "* "),
			Age:        "age " + toolVersion(ctx, "age", "--version"),
		},
	}
}

// add judges a figure and adds it to the table.
func (r *report) add(f Figure) *Figure {
	f.judge()
	r.Figures = append(r.Figures, &f)
	return &f
}

// extra adds a figure without a target.
func (r *report) extra(f Figure) {
	f.judge()
	r.Extras = append(r.Extras, &f)
}

func (r *report) rows(figs []*Figure) [][]string {
	var rows [][]string
	for _, f := range figs {
		value, unit, base, ratio := "-", f.Unit, "-", "-"
		if f.Status != statusNotMeasured {
			value = num(f.Value)
		}
		if f.Baseline != nil {
			base = num(f.Baseline.Value) + " " + f.Baseline.Unit + " (" + f.Baseline.Name + ")"
		}
		if f.Ratio != nil {
			ratio = num(*f.Ratio)
		}
		status := f.Status
		if len(f.Misses) > 0 {
			status += ": " + strings.Join(f.Misses, "; ")
		}
		if f.Status == statusNotMeasured && f.Note != "" {
			status = f.Note
		}
		times, psi := "-", "-"
		if f.Seconds > 0 {
			times = fmt.Sprintf("%s / %s", num(f.Seconds), num(f.CPUSeconds))
			psi = fmt.Sprintf("%.0f%%", 100*f.CPUPressure)
		}
		rows = append(rows, []string{f.ID, f.Name, value, unit, f.target(), base, ratio, status, times, psi})
	}
	return rows
}

var header = []string{"#", "figure", "value", "unit", "target", "baseline (same run)", "ratio", "result", "wall / cpu s", "cpu pressure"}

// writeTable prints the figures and the extras as text tables.
func (r *report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "taosync benchmark, size %s, %s; %d CPUs (%s), %d MiB; %s\n",
		r.Size, r.Started.Format(time.RFC3339), r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMiB, r.Machine.Go)
	fmt.Fprintf(w, "contention: load average %s at the start, %s at the end; some task waited for a CPU %.0f%% of the run, for I/O %.0f%%\n\n",
		r.Contention.LoadAverageStart, r.Contention.LoadAverageEnd, 100*r.Contention.CPUPressure, 100*r.Contention.IOPressure)
	for _, part := range []struct {
		title string
		figs  []*Figure
	}{{"Targets", r.Figures}, {"Other measurements (no target)", r.Extras}} {
		fmt.Fprintln(w, part.title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(header, "\t"))
		for _, row := range r.rows(part.figs) {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "the run stopped early: %s\n", r.Error)
	}
}

// writeMarkdown writes the same tables in Markdown.
func (r *report) writeMarkdown(path string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Size %s, run %s, %.0f s in all; %d CPUs (%s), %d MiB, Linux %s, %s; %s; %s; %s.\n",
		r.Size, r.Started.Format(time.RFC3339), r.Seconds, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemoryMiB,
		r.Machine.Kernel, r.Machine.Filesystem, r.Machine.Go, r.Machine.Zstd, r.Machine.Age)
	fmt.Fprintf(&b, "Contention: load average %s at the start, %s at the end; some task waited for a CPU %.0f%% of the run, for I/O %.0f%%.\n\n",
		r.Contention.LoadAverageStart, r.Contention.LoadAverageEnd, 100*r.Contention.CPUPressure, 100*r.Contention.IOPressure)
	for _, part := range []struct {
		title string
		figs  []*Figure
	}{{"Targets", r.Figures}, {"Other measurements (no target)", r.Extras}} {
		fmt.Fprintf(&b, "**%s**\n\n| %s |\n|%s\n", part.title, strings.Join(header, " | "), strings.Repeat(" --- |", len(header)))
		for _, row := range r.rows(part.figs) {
			for i := range row {
				row[i] = strings.ReplaceAll(row[i], "|", `\|`)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
		}
		b.WriteString("\n")
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "The run stopped early: %s\n", r.Error)
	}
	return writeFile(path, []byte(b.String()))
}

func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func readString(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func cpuModel() string {
	for _, line := range strings.Split(readString("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memTotal() int64 {
	for _, line := range strings.Split(readString("/proc/meminfo"), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			return kb * kib
		}
	}
	return 0
}

// filesystemOf names the file system the homes live on, from the longest
// mount point holding dir: fsync costs differ widely between them.
func filesystemOf(dir string) string {
	f, err := os.Open("/proc/mounts")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	best, kind := "", "unknown"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		mp := fields[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, kind = mp, fields[2]
		}
	}
	return kind + " at " + best
}

// commitOf reads the checked-out commit from .git without running git; the
// working tree may hold changes on top of it.
func commitOf(root string) string {
	head := strings.TrimSpace(readString(filepath.Join(root, ".git", "HEAD")))
	ref, ok := strings.CutPrefix(head, "ref: ")
	if !ok {
		return head
	}
	if c := strings.TrimSpace(readString(filepath.Join(root, ".git", ref))); c != "" {
		return c
	}
	for _, line := range strings.Split(readString(filepath.Join(root, ".git", "packed-refs")), "\n") {
		if c, r, ok := strings.Cut(line, " "); ok && r == ref {
			return c
		}
	}
	return ""
}
