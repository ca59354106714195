"""bench/shapes.py - the fleets of `bench/run --shape`: which domains, MX
names and addresses, and the fewest connections a correct scanner needs
on them (every one is served by `fakemx fast` on 0.0.0.0, whose --stats
count what the scanner really made).

realistic   wildcard pools and, elsewhere, one MX name per address: a share
            of the domains (--pool-share) sits behind --pools pools of
            --pool-size addresses each, every domain with an MX name of its
            own under the pool (pP-dI.mx.bench, all covered by the one
            *.mx.bench certificate, as behind a large provider's pool); the
            others have their own MX host on their own address
            (mxI.mx.bench).  Minimum: one connection per address.
shared-sni  --sni-addresses shared-hosting addresses, domain cI on address
            I mod A, that choose the certificate by SNI: a share of the
            customers (--sni-own-share) have a certificate of their own
            (MX mx.cI.bench, matching fakemx's --sni mx.c*.bench), the rest
            point their MX at a name of the hoster that the default
            certificate covers (cI-sK.mx.bench); --sni-nocert-share of
            them use a name of their own without a certificate
            (mail.cI.bench: the default, a mismatch).  Minimum per address
            with no such names: 1 + its customers with a certificate of
            their own (whichever name comes first, the default is fetched
            once); each name without a certificate must be asked too (a
            scanner cannot know it gets the default), and then the
            default may come with one of them for free.
"""


class Layout:
    def __init__(self, shape):
        self.shape = shape
        self.domains = []  # (domain, mx)
        self.hosts = {}  # mx -> [address]
        self.minimum = self.maximum = 0
        self.sni = None  # fakemx fast --sni patterns
        self.facts = {}  # what the report says about the layout

    @property
    def addresses(self):
        return sorted({ip for ips in self.hosts.values() for ip in ips})

    def records(self):
        return sum(len(self.hosts[mx]) for _, mx in self.domains)


def realistic(n, pools, pool_size, pool_share, host_ip):
    lay = Layout("realistic")
    npool = int(n * pool_share) if pools > 0 else 0
    for i in range(n):
        if i < npool:
            p = i % pools
            mx = "p%d-d%d.mx.bench" % (p, i)
            lay.hosts[mx] = [host_ip(p * pool_size + q) for q in range(pool_size)]
        else:
            mx = "mx%d.mx.bench" % i
            lay.hosts[mx] = [host_ip(pools * pool_size + i - npool)]
        lay.domains.append(("d%d.bench" % i, mx))
    lay.minimum = lay.maximum = len(lay.addresses)
    lay.facts = {"pool domains": npool, "pools": pools, "addresses per pool": pool_size,
                 "MX names per pool address": npool // pools if pools else 0,
                 "domains with their own address": n - npool}
    return lay


def shared_sni(n, addresses, own_share, nocert_share, host_ip):
    lay = Layout("shared-sni")
    lay.sni = "mx.c*.bench"
    per = [{"own": 0, "nocert": 0, "covered": 0} for _ in range(addresses)]
    for i in range(n):
        k = i % addresses
        # a deterministic spread of the kinds over each address's customers
        r = (i // addresses * 7919 + k * 104729) % 1000
        if r < own_share * 1000:
            kind, mx = "own", "mx.c%d.bench" % i
        elif r < (own_share + nocert_share) * 1000:
            kind, mx = "nocert", "mail.c%d.bench" % i
        else:
            kind, mx = "covered", "c%d-s%d.mx.bench" % (i, k)
        per[k][kind] += 1
        lay.hosts[mx] = [host_ip(k)]
        lay.domains.append(("c%d.bench" % i, mx))
    for c in per:
        asked = c["own"] + c["nocert"]
        lay.minimum += asked + (1 if c["covered"] and not c["nocert"] else 0) or 1
        lay.maximum += asked + (1 if c["covered"] else 0) or 1
    lay.facts = {"addresses": addresses, "customers per address": n // addresses,
                 "with a certificate of their own": sum(c["own"] for c in per),
                 "on a name the default covers": sum(c["covered"] for c in per),
                 "own name without a certificate": sum(c["nocert"] for c in per)}
    return lay


def make(a, host_ip):
    if a.shape == "realistic":
        return realistic(a.n, a.pools, a.pool_size, a.pool_share, host_ip)
    return shared_sni(a.n, a.sni_addresses, a.sni_own_share, a.sni_nocert_share, host_ip)


def write(lay, d):
    """domains.txt and unbound's local-data for LAY; returns the config's lines."""
    with open(d + "/domains.txt", "w") as f:
        f.write("".join(dom + "\n" for dom, _ in lay.domains))
    lines = ['  local-data: "%s. 3600 IN A %s"' % (mx, ip) for mx, ips in lay.hosts.items() for ip in ips]
    lines += ['  local-data: "%s. 3600 IN MX 10 %s."' % (dom, mx) for dom, mx in lay.domains]
    return lines
