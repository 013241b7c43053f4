// ghost_purge.js - the peer in bench/ghost_purge.sh: purge every post of a
// Ghost site with the official @tryghost/admin-api client, the same way
// `revenant ghost purge-posts` does it (browse everything 100 a page following
// meta.pagination.next, then delete one by one with N in flight).
//
//   node ghost_purge.js URL KEYFILE JOBS   -> prints "found N deleted D failed F"
'use strict';
const fs = require('fs');
const GhostAdminAPI = require('@tryghost/admin-api');

async function main() {
    const [url, keyFile, jobsArg] = process.argv.slice(2);
    const jobs = Number(jobsArg || 4);
    const api = new GhostAdminAPI({url, key: fs.readFileSync(keyFile, 'utf8').trim(), version: 'v5.0'});
    const ids = [];
    for (let page = 1; page;) {
        const res = await api.posts.browse({limit: 100, page, fields: 'id,title,status,slug'});
        for (const p of res) {
            ids.push(p.id);
        }
        page = res.meta.pagination.next;
    }
    let next = 0, deleted = 0, failed = 0;
    async function worker() {
        while (next < ids.length) {
            const id = ids[next++];
            try {
                await api.posts.delete({id});
                deleted++;
            } catch (err) {
                if (err.response && err.response.status === 404) {
                    deleted++;
                } else {
                    failed++;
                    console.error(`cannot delete ${id}: ${err.message}`);
                }
            }
        }
    }
    await Promise.all(Array.from({length: Math.min(jobs, ids.length)}, worker));
    console.log(`found ${ids.length} deleted ${deleted} failed ${failed}`);
    process.exit(failed ? 1 : 0);
}

main().catch((err) => {
    console.error(err.message);
    process.exit(1);
});
