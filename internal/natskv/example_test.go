package natskv_test

import (
	"context"
	"log"

	"github.com/sidehook/sidehook/internal/natsconn"
	"github.com/sidehook/sidehook/internal/natskv"
	"github.com/sidehook/sidehook/matcher"
)

// Cluster mode's subscription store: subscriptions in the bucket, and a watch of the version marker that
// makes the store reload as soon as another instance changes them. The poll stays as a safety net.
func Example() {
	storage, err := natskv.Open(natskv.Config{
		Config:   natsconn.Config{URLs: []string{"nats://n1:4222", "nats://n2:4222", "nats://n3:4222"}},
		Replicas: 3,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer storage.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	changed, err := storage.Watch(ctx, matcher.VersionKey(matcher.DefaultPrefix))
	if err != nil {
		log.Fatal(err)
	}
	store, err := matcher.NewStore(matcher.StoreConfig{Storage: storage, Changed: changed})
	if err != nil {
		log.Fatal(err)
	}
	store.Start()
	defer store.Stop()
}
