#!/bin/bash
# One HTTP/1.0 answer per connection (socat EXEC): the page names the socket's local address.
while IFS= read -r -t 20 line && [[ -n ${line%$'\r'} ]]; do :; done
body="l3dsr-verify server=${SOCAT_SOCKADDR} client=${SOCAT_PEERADDR}"
printf 'HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' "$((${#body} + 1))" "$body"
