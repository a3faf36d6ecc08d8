# Lango: RouterOS configuration for one NAS
#
#   NAS      "Kibera \"core\" \$1\?"  (Lango id "0b6f3a52-7a1e-4a53-9a3c-3d2b1c4e5f60")
#   tenant   "Mtaa WiFi"  ("mtaa-wifi")
#   address  "41.90.12.7"
#
# FreeRADIUS knows this router by the source address of its RADIUS packets, which must be the
# address above. Behind NAT or a VPN that is the address Lango sees, not the router's own.
#
# This file holds the router's RADIUS secret: treat it like a password and remove it from the
# router once imported.
#
# Import:  /import file-name=lango.rsc verbose=yes
# Importing again is safe. What Lango adds carries a comment starting with "lango" and is
# replaced (remove, then add), so a new secret or portal takes effect and nothing doubles;
# everything else is only set. Needs RouterOS 6.45+; 7.15+ is recommended (BlastRADIUS fixes).

# --- Router identity -------------------------------------------------------------------------
# RouterOS sends its identity as NAS-Identifier. Lango tells apart NAS that share an address by
# it, so the identity must be exactly the identifier registered in Lango.
/system identity set name="kibera-core"

# --- 1. RADIUS client --------------------------------------------------------------------------
# Access-Request and accounting go to FreeRADIUS at "radius.lango.example", UDP 1812 and 1813.
# The name is resolved once, during this import: import again if its address changes.
# timeout: RouterOS's default (300 ms) is too short for a FreeRADIUS in the cloud over a mobile
# backhaul; a late reply is a failed login.
# require-message-auth (7.15+) stays at its default, yes-for-request-resp: Lango's FreeRADIUS
# signs every reply with a Message-Authenticator.
{
:local langoRadius "radius.lango.example"
:set langoRadius [:resolve $langoRadius]
/radius remove [find comment="lango"]
/radius add address=$langoRadius secret="s3c\"r\$t\\\?" service="hotspot,ppp" authentication-port=1812 accounting-port=1813 timeout=3000ms comment="lango"
}

# --- 2. CoA and Disconnect from Lango ----------------------------------------------------------
# RouterOS ships with accept=no, and its manual gives 1700 as the default port (older ones
# 3799), so both are set explicitly: Lango sends CoA-Request and Disconnect-Request to this
# port. If the input chain drops outside traffic, allow it from the Lango worker, e.g.
#   /ip firewall filter add chain=input protocol=udp dst-port=<port> src-address=<worker> action=accept place-before=0
/radius incoming set accept=yes port=3799

# --- 3. Hotspot --------------------------------------------------------------------------------
# The hotspot server profile "hsprof1" logs users in and accounts through RADIUS.
# radius-interim-update=received: the router sends interim updates at the interval that the
# Access-Accept carries. Lango always sends Acct-Interim-Interval (every plan has one, and
# FreeRADIUS adds 300 s for users without a plan); without it a hotspot sends no interim
# updates at all, and data quotas and stale-session closing depend on them.
:if ([:len [/ip hotspot profile find name="hsprof1"]] = 0) do={ :error ("hotspot server profile " . "hsprof1" . " not found: create the hotspot first (/ip hotspot setup) or name its profile") }
/ip hotspot profile set [find name="hsprof1"] use-radius=yes radius-accounting=yes radius-interim-update=received

# --- 4. PPP (PPPoE and other PPP servers) -------------------------------------------------------
# Authentication and accounting through RADIUS. Interim updates every 5 minutes unless the
# Access-Accept carries Acct-Interim-Interval (Lango's does: the plan's interval wins).
/ppp aaa set use-radius=yes accounting=yes interim-update=5m

# --- 5. Walled garden --------------------------------------------------------------------------
# Clients that have not logged in yet may reach the captive portal "pay.mtaa.example": the HTTP
# rule covers plain-HTTP pages, the IP rule HTTPS and everything else. M-Pesa STK prompts come
# over the mobile network and need no entry.
/ip hotspot walled-garden remove [find comment="lango-portal"]
/ip hotspot walled-garden add dst-host="pay.mtaa.example" action=allow comment="lango-portal"
/ip hotspot walled-garden ip remove [find comment="lango-portal"]
/ip hotspot walled-garden ip add dst-host="pay.mtaa.example" action=accept comment="lango-portal"

# The hotspot's login page becomes Lango's mikrotik/hotspot/login.html, a redirect to the portal
#   "http://pay.mtaa.example/portal/mtaa-wifi/hotspot"
# carrying link-login-only, mac, ip, chap-id, chap-challenge and link-orig. The portal posts the login back to the router with the CHAP response computed in
# the page (login-by http-chap), so the password never crosses the network in clear. Plain
# HTTP on purpose: a login form on an HTTPS page that posts to the router's HTTP address is
# blocked or warned about by browsers (mixed content).
:local langoHtmlDir [/ip hotspot profile get [find name="hsprof1"] html-directory]
:if ([:len $langoHtmlDir] = 0) do={ :set langoHtmlDir "hotspot" }
:local langoLoginFile ($langoHtmlDir . "/login.html")
:if ([:len [/file find name=$langoLoginFile]] = 0) do={ /file add name=$langoLoginFile contents="" }
/file set [find name=$langoLoginFile] contents="<!doctype html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>WiFi login</title>\n<!-- Lango external portal (MikroTik hotspot login.html). RouterOS fills in the \$(...) servlet\n     variables; the portal receives where to post the login (link-login-only), the device (mac,\n     ip), the CHAP challenge for this login (chap-id, chap-challenge: octal-escaped bytes, as\n     RouterOS writes them, then URL-escaped), where the user was going (link-orig) and the last\n     error. The portal posts username and MD5(chap-id + password + chap-challenge) back to\n     link-login-only, so the password never crosses the network in clear. -->\n\$(if chap-id)\n<meta http-equiv=\"refresh\" content=\"0; url=http://pay.mtaa.example/portal/mtaa-wifi/hotspot\?link-login-only=\$(link-login-only-esc)&amp;mac=\$(mac-esc)&amp;ip=\$(ip-esc)&amp;chap-id=\$(chap-id-esc)&amp;chap-challenge=\$(chap-challenge-esc)&amp;link-orig=\$(link-orig-esc)&amp;error=\$(error-esc)\">\n</head><body><p><a href=\"http://pay.mtaa.example/portal/mtaa-wifi/hotspot\?link-login-only=\$(link-login-only-esc)&amp;mac=\$(mac-esc)&amp;ip=\$(ip-esc)&amp;chap-id=\$(chap-id-esc)&amp;chap-challenge=\$(chap-challenge-esc)&amp;link-orig=\$(link-orig-esc)&amp;error=\$(error-esc)\">Continue to the WiFi login page</a></p></body></html>\n\$(else)\n<meta http-equiv=\"refresh\" content=\"0; url=http://pay.mtaa.example/portal/mtaa-wifi/hotspot\?link-login-only=\$(link-login-only-esc)&amp;mac=\$(mac-esc)&amp;ip=\$(ip-esc)&amp;link-orig=\$(link-orig-esc)&amp;error=\$(error-esc)\">\n</head><body><p><a href=\"http://pay.mtaa.example/portal/mtaa-wifi/hotspot\?link-login-only=\$(link-login-only-esc)&amp;mac=\$(mac-esc)&amp;ip=\$(ip-esc)&amp;link-orig=\$(link-orig-esc)&amp;error=\$(error-esc)\">Continue to the WiFi login page</a></p></body></html>\n\$(endif)\n"

# --- 6. Soft block: the "please pay" redirect --------------------------------------------------
# Instead of a hard cut, Lango can put a subscriber on the address list "lango-blocked": the
# Access-Accept carries Mikrotik-Address-List and RouterOS lists the client's address for the
# session. A CoA cannot change that list (RouterOS limitation), so Lango disconnects and the
# next login applies it. Listed clients get:
#   - plain HTTP (TCP 80) sent to the portal, which must answer any Host with its pay page;
#   - DNS and the portal itself (list lango-portal, kept current by RouterOS for a name);
#   - nothing else (rejected, so HTTPS fails fast instead of hanging).
# The NAT rule needs the portal's address, resolved once during this import.
/ip firewall address-list remove [find list="lango-portal" comment="lango"]
/ip firewall address-list add list="lango-portal" address="pay.mtaa.example" comment="lango"
{
:local langoPortal "pay.mtaa.example"
:set langoPortal [:resolve $langoPortal]
/ip firewall nat remove [find comment="lango-soft-block"]
/ip firewall nat add chain=dstnat src-address-list="lango-blocked" dst-address-list=!lango-portal protocol=tcp dst-port=80 action=dst-nat to-addresses=$langoPortal to-ports=80 comment="lango-soft-block"
/ip firewall filter remove [find comment="lango-soft-block"]
/ip firewall filter add chain=forward src-address-list="lango-blocked" protocol=udp dst-port=53 action=accept comment="lango-soft-block"
/ip firewall filter add chain=forward src-address-list="lango-blocked" dst-address-list=!lango-portal action=reject reject-with=icmp-admin-prohibited comment="lango-soft-block"
}

# --- 7. RouterOS API for Lango -----------------------------------------------------------------
# Lango lists active sessions and, when a CoA or Disconnect gets no answer, removes the session
# through the RouterOS API: service "api", TCP 8728. This script leaves /ip service
# alone; to open the API to Lango only, with a user that can do no more than it needs:
#   /ip service set "api" port=8728 address=<Lango worker address>/32 disabled=no
#   /user group add name=lango-api policy=read,write,api
#   /user add name="lango-api" group=lango-api password=<the password you gave Lango>
# api-ssl needs a router certificate that the Lango host trusts (/ip service set api-ssl certificate=...).

:log info "lango: configuration imported"
