package store

import (
	"sync"
	"testing"
	"time"
)

// TestTurnsLeasesFirst: while a write holds the turn, a lease statement
// waiting in LockFirst writes before every write waiting in Lock, whether
// they came before it or after: in every one of 20 rounds (without the
// priority, the lease would win a round by chance about one time in three).
func TestTurnsLeasesFirst(t *testing.T) {
	for range 20 {
		turnsRound(t)
	}
}

func turnsRound(t *testing.T) {
	var turns Turns
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	write := func(name string, lock func()) {
		defer wg.Done()
		lock()
		mu.Lock()
		order = append(order, name)
		mu.Unlock()
		turns.Unlock()
	}
	turns.Lock()
	wg.Add(2)
	go write("bulk 1", turns.Lock)
	go write("lease", turns.LockFirst)
	// Until the lease waits (bounded: the goroutine only has to start).
	for deadline := time.Now().Add(10 * time.Second); ; {
		turns.mu.Lock()
		waiting := turns.urgent
		turns.mu.Unlock()
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LockFirst never waited")
		}
		time.Sleep(time.Millisecond)
	}
	wg.Add(1)
	go write("bulk 2", turns.Lock)
	turns.Unlock()
	wg.Wait()
	if order[0] != "lease" || len(order) != 3 {
		t.Fatalf("turns taken in the order %v, want the lease first", order)
	}
}
