package store

import "time"

// logTimeLayout is how log items show times, always UTC (the OTYS getLogs format).
const logTimeLayout = "2006-01-02 15:04:05"

// Delivery is an event's delivery state as a log item shows it.
type Delivery struct {
	Status       string
	Attempts     int
	ResponseCode int
	ResponseData []byte
	Error        string
	NextAttempt  int64 // unix ns of the next attempt; 0 when none
	Processed    int64 // unix ns of the final outcome; 0 before
}

// NewLogItem renders ev and its delivery state the way the management and admin APIs show a log: every store
// builds its log items here, so that they read the same whichever store keeps them.
func NewLogItem(ev Event, d Delivery) LogItem {
	processed := "0"
	if IsFinal(d.Status) {
		processed = "1"
	}
	return LogItem{
		ID:              ev.ID,
		ClientID:        ev.ClientID,
		UserID:          ev.UserID,
		WebhookURL:      ev.URL,
		RequestData:     string(ev.Body),
		ResponseData:    string(d.ResponseData),
		ResponseCode:    d.ResponseCode,
		Added:           logTime(ev.Created),
		IsProcessed:     processed,
		Processed:       logTime(d.Processed),
		Status:          d.Status,
		Attempts:        d.Attempts,
		NextAttempt:     logTime(d.NextAttempt),
		SubscriptionUID: ev.SubscriptionUID,
		Error:           d.Error,
	}
}

// logTime is ns in logTimeLayout, "" for 0 (no such time).
func logTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(logTimeLayout)
}
