package jsstore

// Check reports what would keep Open from accepting c, without connecting: a config error can then be named
// when the config is loaded (or by `caddy validate`), not first when the store opens.
func (c Config) Check() error {
	_, err := c.withDefaults()
	return err
}
