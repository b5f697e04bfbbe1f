#!/bin/sh
# Replays an incoming missed call from a client's number, signed as Zadarma and as Mango sign their notifications:
# check an installation's telephony without a PBX (docs/telephony.md, "Try it without a PBX").
# Set BASE, the plugins' secrets (SECRET: zadarma's api_secret; KEY and SALT: mango's api_key and api_salt), and
# CALLER / the Mango "from" number to a client's phone.
BASE=${BASE:-http://127.0.0.1:5000}
# --- Zadarma: Signature = base64(hex(HMAC-SHA1(api_secret, caller_id + called_did + call_start)))
SECRET=${SECRET:-demo}; CALLER=${CALLER:-79475560006}; DID=74951112233; ID=show-z-$(date +%s)
START=$(TZ=Europe/Moscow date '+%Y-%m-%d %H:%M:%S')  # in the cabinet's time zone
zsig() { printf '%s' "$1" | openssl dgst -sha1 -hmac "$SECRET" | awk '{print $NF}' | tr -d '\n' | base64; }
SIG=$(zsig "$CALLER$DID$START")
echo "NOTIFY_START (Zadarma waits for whom to ring):"
curl -s -X POST "$BASE/webhooks/zadarma/calls" -H "Signature: $SIG" --data-urlencode event=NOTIFY_START \
  --data-urlencode "call_start=$START" --data-urlencode pbx_call_id=$ID --data-urlencode caller_id=$CALLER \
  --data-urlencode called_did=$DID; echo
echo "NOTIFY_INTERNAL (101 rings):"
curl -s -X POST "$BASE/webhooks/zadarma/calls" -H "Signature: $SIG" --data-urlencode event=NOTIFY_INTERNAL \
  --data-urlencode "call_start=$START" --data-urlencode pbx_call_id=$ID --data-urlencode caller_id=$CALLER \
  --data-urlencode called_did=$DID --data-urlencode internal=101; echo
sleep 1
echo "NOTIFY_END (nobody answered):"
curl -s -X POST "$BASE/webhooks/zadarma/calls" -H "Signature: $SIG" --data-urlencode event=NOTIFY_END \
  --data-urlencode "call_start=$START" --data-urlencode pbx_call_id=$ID --data-urlencode caller_id=$CALLER \
  --data-urlencode called_did=$DID --data-urlencode internal=101 --data-urlencode duration=0 \
  --data-urlencode "disposition=no answer" --data-urlencode status_code=19 --data-urlencode is_recorded=0; echo
echo "the same NOTIFY_END with a forged signature:"
curl -s -o /dev/null -w '%{http_code}\n' -X POST "$BASE/webhooks/zadarma/calls" -H "Signature: Zm9yZ2Vk" \
  --data-urlencode event=NOTIFY_END --data-urlencode "call_start=$START" --data-urlencode pbx_call_id=$ID \
  --data-urlencode caller_id=$CALLER --data-urlencode called_did=$DID
# --- Mango: sign = sha256(vpbx_api_key + json + api_salt), posted as vpbx_api_key, sign, json
KEY=${KEY:-demo-mango-key}; SALT=${SALT:-demo-mango-salt}; ENTRY=show-m-$(date +%s); NOW=$(date +%s)
mango() { # path json
  S=$(printf '%s' "$KEY$2$SALT" | sha256sum | awk '{print $1}')
  curl -s -o /dev/null -w "$1 %{http_code}\n" -X POST "$BASE/webhooks/mango/$1" --data-urlencode "vpbx_api_key=$KEY" \
    --data-urlencode "sign=$S" --data-urlencode "json=$2"; }
FROM='{"number":"79207810008"}'; TO='{"extension":"101","number":"sip:101@demo.mangosip.ru","line_number":"74951112233"}'
mango events/call "{\"entry_id\":\"$ENTRY\",\"call_id\":\"$ENTRY-1\",\"timestamp\":$NOW,\"seq\":1,\"call_state\":\"Appeared\",\"location\":\"abonent\",\"from\":$FROM,\"to\":$TO}"
mango events/call "{\"entry_id\":\"$ENTRY\",\"call_id\":\"$ENTRY-1\",\"timestamp\":$((NOW+25)),\"seq\":2,\"call_state\":\"Disconnected\",\"location\":\"abonent\",\"from\":$FROM,\"to\":$TO,\"disconnect_reason\":1110}"
mango events/summary "{\"entry_id\":\"$ENTRY\",\"call_direction\":1,\"from\":$FROM,\"to\":$TO,\"line_number\":\"74951112233\",\"create_time\":$NOW,\"forward_time\":$NOW,\"talk_time\":0,\"end_time\":$((NOW+25)),\"entry_result\":0,\"disconnect_reason\":1110}"
