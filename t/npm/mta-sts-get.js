'use strict';

// The MTA-STS policy of a domain as mailauth sees it (DNS TXT record,
// then the policy over HTTPS), and whether each MX name given would be
// allowed by it: one line of JSON.
//
//   node mta-sts-get.js example.com mx1.example.com other.example.net

const { getPolicy, validateMx } = require('mailauth/lib/mta-sts');

async function main() {
    const [domain, ...names] = process.argv.slice(2);
    const { policy, status } = await getPolicy(domain);
    const out = {
        status,
        id: policy.id,
        mode: policy.mode,
        mx: policy.mx || [],
        max_age: policy.maxAge,
        allowed: {}
    };

    if (policy.error) {
        out.error = policy.error.code || policy.error.message;
    }

    for (const name of names) {
        out.allowed[name] = validateMx(name, policy).valid;
    }

    process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch(err => {
    process.stderr.write(`mta-sts-get: ${err.stack || err}\n`);
    process.exit(1);
});
