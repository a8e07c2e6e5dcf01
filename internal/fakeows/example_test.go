package fakeows_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sidehook/sidehook/internal/fakeows"
)

func Example() {
	ows := fakeows.New(fakeows.Options{Users: []fakeows.User{{APIKey: "k", ClientID: "c1", UserID: "u1"}}})
	srv := httptest.NewServer(ows)
	defer srv.Close()

	do := func(body string) string {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	fmt.Println(do(`{"jsonrpc":"2.0","method":"login","params":["wrong"],"id":1}`))
	fmt.Println(do(`{"jsonrpc":"2.0","method":"Otys.Services.MultiService.execute","params":[[{"method":"echo","args":[1]},{"method":"fail","args":[]}]],"id":2}`))
	fmt.Println(do(`{"jsonrpc":"2.0","method":"system.multicall","params":[[{"methodName":"echo","params":["x"]},{"methodName":"Otys.Services.WebhooksService.add","params":[]}]],"id":3}`))
	fmt.Println(ows.Calls())
	// Output:
	// {"jsonrpc":"2.0","id":1,"error":{"code":-32001,"message":"Access denied; please login first"}}
	// {"jsonrpc":"2.0","id":2,"result":[{"status":"success","data":[1]},{"status":"error","message":"failure on purpose"}]}
	// {"jsonrpc":"2.0","id":3,"result":[[["x"]],{"faultCode":-32601,"faultString":"upstream WebhooksService must not be reached"}]}
	// [login Otys.Services.MultiService.execute echo fail system.multicall echo Otys.Services.WebhooksService.add]
}
