/* explain.c - the explanation table: one row per class of classify.h.
 *
 * The text is for the operator of the server that was probed: what
 * happened, the usual causes, and the fix.  Facts of the probe (the reply,
 * the alert, what the legacy retry got) are printed beside it by the
 * caller, so the rows stay true for every probe of their class.
 */
#include "results/explain.h"

#include <stddef.h>

/* X(class enum suffix, what, cause, fix), in MXS_CLASS_TABLE order. */
#define MXS_EXPLAIN_TABLE(X)                                                                                       \
  X(DNS_NXDOMAIN, "The domain does not exist in DNS (NXDOMAIN), so no mail can be delivered to it.",               \
    "A typo in the domain name, a domain that expired or was never registered, or a zone "                         \
    "its name servers do not serve.",                                                                              \
    "Check the spelling; if the domain should exist, check its registration and that every "                       \
    "name server of the delegation serves the zone (dig +trace DOMAIN MX).")                                       \
  X(DNS_SERVFAIL, "The resolver could not get an answer for the domain: it answered SERVFAIL or REFUSED.",         \
    "The domain's name servers are down, lame (delegated but not serving the zone) or "                            \
    "refuse queries, or DNSSEC validation fails (expired signatures, a DS record that "                            \
    "matches no DNSKEY). With --dns, the resolver asked may also refuse to answer for this "                       \
    "domain.",                                                                                                     \
    "Ask each authoritative server directly (dig @NS DOMAIN MX) and check DNSSEC (e.g. with "                      \
    "dnsviz.net); senders cannot deliver until every resolver gets an answer.")                                    \
  X(DNS_TIMEOUT, "No DNS answer arrived within the timeout and retries.",                                          \
    "The domain's name servers drop queries or cannot be reached, or the resolver asked "                          \
    "(--dns) is unreachable from here.",                                                                           \
    "Ask the authoritative servers directly with dig; check that firewalls in front of them "                      \
    "pass UDP and TCP port 53; retry with a longer --dns-timeout.")                                                \
  X(NULL_MX,                                                                                                       \
    "The domain publishes a null MX (MX 0 .): it declares that it accepts no mail at all "                         \
    "(RFC 7505).",                                                                                                 \
    "A deliberate setting for domains that never receive mail.",                                                   \
    "Nothing to fix if the domain should receive no mail; otherwise replace the null MX "                          \
    "with MX records naming the mail servers.")                                                                    \
  X(NO_MX_NO_ADDRESS,                                                                                              \
    "The domain has neither an MX record nor an A/AAAA record: there is no mail route to "                         \
    "it.",                                                                                                         \
    "The MX records were removed or never published, often after a move to another DNS "                           \
    "provider.",                                                                                                   \
    "Publish MX records naming the mail servers, or a null MX (MX 0 .) if the domain should "                      \
    "receive no mail.")                                                                                            \
  X(MX_NO_ADDRESS, "This MX host name has no A/AAAA record, so senders cannot connect to it.",                     \
    "A typo in the MX target, a retired host, or an MX record that names an IP address: an "                       \
    "MX target must be a host name, and a name like 192.0.2.1 is looked up as a name and "                         \
    "not found.",                                                                                                  \
    "Point the MX record at a host name that has an A (or AAAA) record, or publish the "                           \
    "missing record for this host.")                                                                               \
  X(STS_POLICY_FETCH_ERROR,                                                                                        \
    "The domain announces an MTA-STS policy in DNS (_mta-sts TXT), but the policy could "                          \
    "not be fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt; "                                         \
    "policy.sts.fetch_error in the record says why.",                                                              \
    "The policy host has no address or does not answer on port 443, its certificate is "                           \
    "not valid for mta-sts.DOMAIN under WebPKI, the server answers with a redirect "                               \
    "(senders do not follow them), an error status, a content type other than text/plain, "                        \
    "or more than 64 KiB, or it is too slow; or the _mta-sts TXT lookup itself failed.",                           \
    "Serve the policy at exactly that URL, over HTTPS with a publicly trusted certificate "                        \
    "for mta-sts.DOMAIN, status 200, Content-Type text/plain and no redirect. Senders "                            \
    "that cached the policy keep enforcing it while new senders see none: fix it, or "                             \
    "remove the _mta-sts record.")                                                                                 \
  X(STS_POLICY_INVALID,                                                                                            \
    "The domain's MTA-STS policy does not hold up: the _mta-sts TXT record is malformed "                          \
    "or there are several, the policy text does not parse (RFC 8461 section 3.2), or an "                          \
    "enforce policy does not list this MX host, so compliant senders refuse to deliver to "                        \
    "it.",                                                                                                         \
    "A typo in the TXT record or the policy file, a second v=STSv1 record left behind, a "                         \
    "missing version, mode, mx or max_age line, or an MX host added or renamed without "                           \
    "updating the policy's mx lines.",                                                                             \
    "Publish exactly one TXT record 'v=STSv1; id=...;' and a policy with the lines "                               \
    "version: STSv1, mode, one mx line per MX host (a leading *. matches one label) and "                          \
    "max_age; change the id whenever the policy changes.")                                                         \
  X(DNSSEC_INVALID,                                                                                                \
    "DANE: the TLSA records of this MX host (or the records they depend on) failed DNSSEC "                        \
    "validation, so a DANE sender must not deliver to it.",                                                        \
    "Expired signatures, a DS record at the parent that matches no DNSKEY, a zone "                                \
    "re-signed with a new key before the DS was updated, or a name server serving "                                \
    "unsigned answers in a signed zone; or the validating resolver got no answer at all "                          \
    "(policy.dane.error says timeout), which a DANE sender cannot tell from an attack.",                           \
    "Check the zone with dnsviz.net or delv; re-sign it, or fix the DS record at the "                             \
    "registrar. Until it validates, DANE senders defer the mail.")                                                 \
  X(DANE_REQUIRED,                                                                                                 \
    "DANE: no DNSSEC-validated TLSA record was found for this MX host, where the sender "                          \
    "requires one (mxscan --require-dane audits as such a sender).",                                               \
    "The zone of the MX host is not signed, or the _25._tcp TLSA record is missing for "                           \
    "this MX host.",                                                                                               \
    "Sign the zone and publish a TLSA record at _25._tcp.MX (usage 3 1 1 for the server's "                        \
    "key, or 2 1 1 for the issuing CA), or do not require DANE for this domain.")                                  \
  X(TCP_TIMEOUT, "Nothing answers on the SMTP port from here: the connection attempt timed out.",                  \
    "A firewall drops the SYN (the port is filtered), the server is down, or the network "                         \
    "this probe runs from blocks outgoing port 25, as many ISPs and cloud providers do.",                          \
    "Check from another network first; if it times out there too, open port 25 in the "                            \
    "server's firewall or security group and check that the server is up.")                                        \
  X(TCP_REFUSED, "The host refused the connection: nothing listens on the SMTP port of this address.",             \
    "The mail server is stopped or crashed, listens only on localhost or on another "                              \
    "address, or a firewall rejects the connection instead of dropping it.",                                       \
    "Start the mail server and make it listen on this address (Postfix inet_interfaces, "                          \
    "Exim local_interfaces); ss -ltn on the host shows what listens.")                                             \
  X(TCP_UNREACHABLE,                                                                                               \
    "The address cannot be reached: the host or network is unreachable, or the connection "                        \
    "failed in another way.",                                                                                      \
    "No route to the address (a private, retired or mistyped address in DNS, a routing "                           \
    "problem) or an ICMP unreachable sent by a firewall; for an IPv6 address, no IPv6 "                            \
    "connectivity where the probe runs.",                                                                          \
    "Check that the address in DNS is the server's public address and that it is routable "                        \
    "(traceroute); test IPv6 addresses from a network that has IPv6.")                                             \
  X(SMTP_BANNER_TIMEOUT, "The connection was accepted, but no complete SMTP greeting (220) arrived in time.",      \
    "The mail server is overloaded or hung, delays its greeting longer than senders wait (a "                      \
    "tarpit or greet pause), stalls on a DNS or blocklist lookup of the client, or a load "                        \
    "balancer accepts connections with no working server behind it.",                                              \
    "Look at the mail server's load and its log for this connection; keep any greeting "                           \
    "delay well under 30 seconds; check the load balancer's health checks.")                                       \
  X(SMTP_TIMEOUT,                                                                                                  \
    "The server greeted us, then its reply to EHLO, HELO or STARTTLS did not arrive in "                           \
    "time.",                                                                                                       \
    "The server stalls on a slow DNS or blocklist lookup of the client, a content filter or "                      \
    "policy service (milter) hangs, or a firewall that inspects SMTP holds the command "                           \
    "back.",                                                                                                       \
    "Read the mail server's log for this session; check its milters and policy services; "                         \
    "turn off SMTP inspection on the firewall (e.g. Cisco 'inspect esmtp').")                                      \
  X(SMTP_REJECTED,                                                                                                 \
    "The server refused the session: a 4xx/5xx greeting, a 4xx reply to EHLO, or a 5xx "                           \
    "reply to both EHLO and HELO (the reply in the transcript says which).",                                       \
    "The probe's address is blocked (a blocklist, geographic or reputation filtering), the "                       \
    "server has too many connections (421), or it is in maintenance. Real senders may be "                         \
    "accepted where the probe is not.",                                                                            \
    "Read the reply text in the transcript; if only the probe is blocked, check from an "                          \
    "address the server accepts; otherwise fix the server's connection limits or access "                          \
    "rules.")                                                                                                      \
  X(SMTP_PROTOCOL_ERROR,                                                                                           \
    "The peer does not speak SMTP: what it sent is not a valid SMTP reply (garbage, "                              \
    "over-long lines, malformed replies).",                                                                        \
    "Another service listens on the port (a web server, SSH, an implicit-TLS service), or a "                      \
    "proxy or port forwarding leads to the wrong backend.",                                                        \
    "See in the transcript what the peer sent, and make the port lead to the mail server.")                        \
  X(SMTP_CLOSED, "The server closed the connection before STARTTLS.",                                              \
    "The server drops clients it does not like without a reply (reverse DNS, blocklists, "                         \
    "connection limits), it crashed, or a firewall or intrusion prevention system reset the "                      \
    "session.",                                                                                                    \
    "Look in the mail server's log for this connection at the time shown; check its "                              \
    "connection limits and any IPS rules in front of it.")                                                         \
  X(STARTTLS_NOT_OFFERED,                                                                                          \
    "The server does not offer STARTTLS (its EHLO reply does not list it, or it only "                             \
    "accepts HELO): mail to it travels unencrypted.",                                                              \
    "TLS is not configured or is turned off (no certificate configured, Postfix "                                  \
    "smtpd_tls_security_level = none), or a firewall that inspects SMTP removes STARTTLS "                         \
    "from the EHLO reply (Cisco ESMTP inspection shows it as XXXXXXXA).",                                          \
    "Install a certificate and enable STARTTLS (Postfix: smtpd_tls_security_level = may and "                      \
    "smtpd_tls_chain_files; Exim: tls_certificate and tls_advertise_hosts = *), and turn "                         \
    "off SMTP inspection on the firewall.")                                                                        \
  X(STARTTLS_REJECTED, "The server offers STARTTLS but refused it when asked (e.g. 454 TLS not available).",       \
    "The mail server cannot load its certificate or private key (a wrong path or "                                 \
    "permissions, a key that does not match the certificate) or its TLS settings are "                             \
    "broken.",                                                                                                     \
    "Look for TLS errors in the mail server's log at startup and at this time; fix the "                           \
    "certificate and key files and their permissions, then reload the server.")                                    \
  X(TLS_VERSION_MISMATCH,                                                                                          \
    "The server and a modern sender have no TLS version in common: the probe offers TLS 1.2 "                      \
    "and 1.3, the server accepts only older versions. Senders then deliver in plaintext or "                       \
    "keep the mail queued; with MTA-STS or DANE it is not delivered.",                                             \
    "An old TLS library or mail server (OpenSSL 1.0.0 or older, Windows Server without TLS "                       \
    "1.2 enabled) or a configuration that turns TLS 1.2 off.",                                                     \
    "Upgrade the TLS library or mail server, or enable TLS 1.2 and 1.3 (Postfix: "                                 \
    "smtpd_tls_protocols = >=TLSv1.2; Windows: enable TLS 1.2 in SCHANNEL).")                                      \
  X(TLS_NO_SHARED_CIPHER,                                                                                          \
    "The TLS versions overlap, but no cipher suite does: the server accepts none of the "                          \
    "suites a modern sender offers.",                                                                              \
    "The server is limited to old suites (RC4, 3DES, Camellia, CBC without ECDHE) by its "                         \
    "configuration or an old library, or its cipher list does not fit its certificate's key "                      \
    "type (ECDSA-only suites with an RSA certificate).",                                                           \
    "Go back to the library's default cipher list (Postfix: smtpd_tls_ciphers = medium and "                       \
    "no tls_medium_cipherlist override; Exim: no tls_require_ciphers) so that ECDHE with "                         \
    "AES-GCM or ChaCha20 is offered.")                                                                             \
  X(TLS_WEAK_DH,                                                                                                   \
    "The server's Diffie-Hellman key is too small: it uses a 1024-bit (or smaller) DH "                            \
    "group, which modern senders refuse.",                                                                         \
    "Old DH parameters: a 1024-bit dhparam file (Postfix smtpd_tls_dh1024_param_file "                             \
    "pointing at an old file) or the default of an old library.",                                                  \
    "Use 2048-bit or larger DH parameters (openssl dhparam 2048, or the library's built-in "                       \
    "ffdhe2048), or prefer ECDHE key exchange.")                                                                   \
  X(TLS_LEGACY_RENEGOTIATION,                                                                                      \
    "The server does not support secure renegotiation (RFC 5746), so a modern sender "                             \
    "refuses to finish the handshake.",                                                                            \
    "A very old TLS library (from before 2010), or a TLS proxy or appliance that strips the "                      \
    "renegotiation_info extension.",                                                                               \
    "Upgrade the TLS library, or the firmware of the appliance that terminates TLS; every "                        \
    "maintained TLS stack supports RFC 5746.")                                                                     \
  X(TLS_DIED,                                                                                                      \
    "The server closed the connection during the TLS handshake, without a TLS alert "                              \
    "(\"connection died while negotiating STARTTLS\").",                                                           \
    "Usually its TLS library rejects our ClientHello (a protocol version, cipher list or "                         \
    "extension it cannot parse), or an IDS or firewall resets the flow once TLS starts; "                          \
    "sometimes the mail server cannot load its certificate and drops the session.",                                \
    "Compare with what the legacy retry got; look for TLS errors in the mail server's log "                        \
    "at this time; test from another network to rule out a middlebox; upgrade an old TLS "                         \
    "library.")                                                                                                    \
  X(TLS_TIMEOUT,                                                                                                   \
    "The TLS handshake started, then stalled: the server stopped answering in the middle of "                      \
    "it.",                                                                                                         \
    "A middlebox that swallows TLS records after STARTTLS, a path MTU problem that loses "                         \
    "the large certificate message (ICMP 'fragmentation needed' blocked), or an overloaded "                       \
    "server.",                                                                                                     \
    "Check that ICMP 'fragmentation needed' passes and that MSS clamping is right on the "                         \
    "path; test from another network; check the server's load.")                                                   \
  X(TLS_ALERT, "The server aborted the handshake with a fatal TLS alert; the detail names it.",                    \
    "The server refuses something in our ClientHello: access_denied from an access rule, "                         \
    "unrecognized_name for the SNI we sent, internal_error when it cannot use its "                                \
    "certificate or key; or it asked for a client certificate (the detail says so) and "                           \
    "refused ours, or our having none: certificate_required, unknown_ca, bad_certificate.",                        \
    "Look up the alert named in the detail and the mail server's log at this time; "                               \
    "internal_error usually means a certificate or key problem on the server.  A server that "                     \
    "wants a client certificate needs one from a CA it trusts: --client-cert and --client-key "                    \
    "(mxscan probe --compare-profiles shows the difference).")                                                     \
  X(TLS_PROTOCOL_ERROR,                                                                                            \
    "After its 220 reply to STARTTLS, the server did not speak TLS, or it sent plaintext "                         \
    "after the 220 that would be mistaken for an answer inside TLS.",                                              \
    "A server or proxy that answers 220 to STARTTLS without switching to TLS, or plaintext "                       \
    "injected after the 220: a man in the middle, or the STARTTLS command injection bug "                          \
    "class (CVE-2011-0411).",                                                                                      \
    "See in the transcript what came after the 220; fix or remove the proxy in front of the "                      \
    "mail server; update a mail server that sends or buffers plaintext across STARTTLS.")                          \
  X(TLSA_INVALID,                                                                                                  \
    "DANE: the server's certificate matches none of the usable TLSA records of this MX "                           \
    "host, so a DANE sender refuses it, whatever WebPKI says.",                                                    \
    "The certificate or key was renewed without first publishing the new TLSA record, a "                          \
    "TLSA record with the wrong selector or hash, or only usages 0 and 1, which SMTP does "                        \
    "not use (RFC 7672).",                                                                                         \
    "Publish a TLSA record for the key now in use (3 1 1 survives renewals that keep the "                         \
    "key); on a rollover publish the new record, wait for the TTL, then switch the "                               \
    "certificate.")                                                                                                \
  X(STS_WEBPKI_INVALID,                                                                                            \
    "The domain's MTA-STS policy is in enforce mode and this MX host's certificate is not "                        \
    "valid for it under WebPKI, so compliant senders refuse to deliver to it; cert_errors "                        \
    "in the record says what is wrong.",                                                                           \
    "An expired, self-signed or privately issued certificate, a missing intermediate, or "                         \
    "a certificate that does not name the MX host: each only a warning to an "                                     \
    "opportunistic sender, and fatal under enforce.",                                                              \
    "Fix the certificate as the classes in cert_errors say (mxscan explain CLASS), or "                            \
    "switch the policy to mode: testing until it is fixed.")                                                       \
  X(CERT_EXPIRED, "The certificate, or one in its chain, is past its expiry date.",                                \
    "Renewal failed, or the renewed certificate was not installed or the mail server not "                         \
    "reloaded, so it still serves the old file.",                                                                  \
    "Renew the certificate, install it with its full chain and reload the mail server; "                           \
    "check the renewal job's log and monitor expiry.")                                                             \
  X(CERT_NOT_YET_VALID, "The certificate is not valid yet: its start date (notBefore) is in the future.",          \
    "A certificate installed before its start date, or a wrong clock on the host that "                            \
    "issued it (or on the host running this probe).",                                                              \
    "Check the clocks involved; install a certificate that is valid now.")                                         \
  X(CERT_SELF_SIGNED, "The server presents a self-signed certificate, which no sender can verify.",                \
    "The mail server's default or snakeoil certificate (e.g. Debian's ssl-cert-snakeoil) "                         \
    "was never replaced.",                                                                                         \
    "Install a certificate from a public CA (e.g. Let's Encrypt) for the MX host name, with "                      \
    "its chain. Opportunistic senders still encrypt; senders that verify (MTA-STS) do not "                        \
    "deliver, unless DANE TLSA records vouch for this certificate.")                                               \
  X(CERT_CHAIN_INCOMPLETE,                                                                                         \
    "The server does not send its intermediate certificate, so its certificate cannot be "                         \
    "linked to a trusted root.",                                                                                   \
    "Only the server's own certificate is configured, not the full chain (cert.pem instead "                       \
    "of fullchain.pem).",                                                                                          \
    "Configure the full chain file: the server's certificate first, then the intermediates "                       \
    "(Postfix: smtpd_tls_chain_files, or smtpd_tls_cert_file = fullchain.pem; Exim: "                              \
    "tls_certificate = fullchain.pem).")                                                                           \
  X(CERT_UNTRUSTED, "The certificate chain leads to no trusted root.",                                             \
    "A private or internal CA, a chain ending in a root that public trust stores do not "                          \
    "have, or a wrong intermediate.",                                                                              \
    "Use a certificate from a public CA and serve its chain; if the CA must stay private, "                        \
    "publish DANE TLSA records so senders can still verify it.")                                                   \
  X(CERT_HOSTNAME_MISMATCH,                                                                                        \
    "The certificate does not name this MX host: none of its names (SAN, or CN without SAN) "                      \
    "matches.",                                                                                                    \
    "A certificate for another name (the web site, the server's own host name, another MX), "                      \
    "or an MX record renamed without a new certificate.",                                                          \
    "Get a certificate whose names include every MX host name that points to this server, "                        \
    "or make the MX record use a name the certificate covers.")                                                    \
  X(CERT_WEAK,                                                                                                     \
    "The certificate uses a weak key or signature: an RSA or DSA key under 2048 bits, an EC "                      \
    "key under 224 bits, or an MD5 or SHA-1 signature.",                                                           \
    "An old certificate, or one made with old defaults.",                                                          \
    "Issue a new certificate with an RSA 2048-bit (or larger) or EC P-256 key, signed with "                       \
    "SHA-256.")                                                                                                    \
  X(POST_TLS_EHLO_FAILED, "TLS came up, but the EHLO sent inside TLS failed or the server closed the connection.", \
    "The mail server fails after the handshake (a bug, a policy that rejects the client "                          \
    "once TLS is up), or a TLS proxy in front of it cannot reach or talk to the mail server "                      \
    "behind it.",                                                                                                  \
    "Look in the mail server's log for this session after STARTTLS; if a proxy terminates "                        \
    "TLS, check its connection to the mail server.")                                                               \
  X(EXCLUDED,                                                                                                      \
    "The scan did not probe this: the domain, its MX host or the address is on the run's "                         \
    "exclude list (--exclude). An excluded domain is not even looked up in DNS.",                                  \
    "The operator of the scan listed it: an opt-out by the owner of the domain or the network, "                   \
    "or a private or special-purpose network (RFC 1918, RFC 6890) that must not be probed.",                       \
    "Nothing to fix on the server. To scan it, remove the entry the record's detail names "                        \
    "(file and line) from the exclude list.")                                                                      \
  X(OK,                                                                                                            \
    "STARTTLS works: TLS came up with a trusted certificate that names the MX host, and the "                      \
    "server answered EHLO inside TLS.",                                                                            \
    "Nothing is wrong: the server is set up the way senders expect.",                                              \
    "Nothing to fix. Keep the certificate renewed, and consider MTA-STS or DANE so that "                          \
    "senders require TLS.")

/* Every class has exactly one row, in its place: a missing or extra row
 * fails the count, a misplaced one its own assertion, a row naming no
 * class does not compile. */
enum {
#define MXS_EXPLAIN_POS(id, what, cause, fix) MXS_EXPLAIN_POS_##id,
  MXS_EXPLAIN_TABLE(MXS_EXPLAIN_POS)
#undef MXS_EXPLAIN_POS
      MXS_EXPLAIN_ROWS
};
_Static_assert((int)MXS_EXPLAIN_ROWS == (int)MXS_CLASS_COUNT, "explain.c: one row per class");
#define MXS_EXPLAIN_CHECK(id, what, cause, fix) \
  _Static_assert((int)MXS_EXPLAIN_POS_##id == (int)MXS_CLASS_##id, "explain.c: row out of order: " #id);
MXS_EXPLAIN_TABLE(MXS_EXPLAIN_CHECK)
#undef MXS_EXPLAIN_CHECK

static const mxs_explain_t rows[MXS_CLASS_COUNT] = {
#define MXS_EXPLAIN_ROW(id, what, cause, fix) {what, cause, fix},
    MXS_EXPLAIN_TABLE(MXS_EXPLAIN_ROW)
#undef MXS_EXPLAIN_ROW
};

const mxs_explain_t *mxs_explain(mxs_class_t c) { return (unsigned)c < MXS_CLASS_COUNT ? &rows[c] : NULL; }
