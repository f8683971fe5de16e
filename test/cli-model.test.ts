/**
 * `hallmark model …` against a real node process: fingerprint (text, --json, in-toto) of a folder
 * holding a real safetensors file, register with provenance and a child with a parent, show,
 * lineage both ways, attest and revoke the attestation, transfer, update, supersede, and verify's
 * exit statuses: 0 verified, 2 a changed byte (the file and the tensor named), a missing and an
 * extra file, 3 not registered, 4 revoked; bad options exit 1 naming the option; --no-wait.
 */
import t from 'tap';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCliNode } from './fixtures/cli-node.ts';
import { safetensorsBytes, writeFile } from './fixtures/safetensors.ts';


const f32 = (...xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);

/** A small model: real safetensors weights, a config and a nested tokenizer file. */
function writeModel(dir: string, label: string): void {
  writeFile(dir, 'model.safetensors', safetensorsBytes([
    { name: 'w', dtype: 'F32', shape: [2, 2], data: f32(1, 2, 3, 4) },
    { name: 'b', dtype: 'F32', shape: [2], data: f32(5, 6) },
  ]));
  writeFile(dir, 'config.json', JSON.stringify({ label }));
  writeFile(dir, 'tokenizer/vocab.txt', 'a\nb\nc\n');
}

const fpOf = (stdout: string) => /^fingerprint +([0-9a-f]{64})$/m.exec(stdout)?.[1];

t.test('model commands against a running node', async (t) => {
  const { home, h, stop } = await startCliNode(t);

  const base = join(home, 'base');
  writeModel(base, 'base');
  const text = await h('model', 'fingerprint', base);
  t.equal(text.code, 0, text.stderr);
  const fp = fpOf(text.stdout)!;
  t.ok(fp, `the fingerprint is printed:\n${text.stdout}`);
  t.match(text.stdout, /^tensor fingerprint +[0-9a-f]{64} \(safetensors\)$/m);
  t.match(text.stdout, /^files +3$/m);
  t.equal(text.stderr, '', 'no progress bar when stderr is not a terminal');
  const json = JSON.parse((await h('model', 'fingerprint', base, '--json', '--threads', '0')).stdout);
  t.equal(json.fingerprint, fp, 'the same fingerprint hashed on the main thread');
  t.same(json.manifest.map((e: { path: string }) => e.path), ['config.json', 'model.safetensors', 'tokenizer/vocab.txt']);
  t.match(json.manifest[0], { size: 16, algorithm: 'sha256', digest: /^[0-9a-f]{64}$/ });
  t.same(json.tensors.map((e: { name: string }) => e.name), ['b', 'w']);
  t.match(json, { format: 'safetensors', tensor_fingerprint: /^[0-9a-f]{64}$/, bytes: Number, seconds: Number, throughput_mb_s: Number });
  const statement = JSON.parse((await h('model', 'fingerprint', base, '--format', 'in-toto', '--name', 'org/base')).stdout);
  t.match(statement, {
    _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'org/base', digest: { sha256: fp } }],
    predicateType: 'https://hallmark.dev/model-manifest/v1', predicate: { fingerprint: fp, tensorFingerprint: json.tensor_fingerprint },
  });
  t.equal(statement.predicate.resources.length, 3);
  t.equal(JSON.parse((await h('model', 'fingerprint', base, '--format', 'in-toto')).stdout).subject[0].name, 'base', 'subject defaults to the folder name');

  // Register with provenance.
  const evalFile = join(home, 'eval.json');
  writeFileSync(evalFile, '{"mmlu":0.5}');
  const reg = await h('model', 'register', base, '--name', 'org/base', '--version', '1.0', '--license', 'Apache-2.0',
    '--code', 'github.com/org/train@abc1234', '--dataset', `${'ab'.repeat(32)}=hf://datasets/org/d`, '--eval', evalFile);
  t.equal(reg.code, 0, reg.stderr);
  t.match(reg.stdout, new RegExp(`^fingerprint +${fp}$`, 'm'));
  t.match(reg.stdout, /^status +ok$/m);
  t.match(reg.stdout, /^height +\d+$/m);
  t.match(JSON.parse(readFileSync(join(base, '.hallmark.json'), 'utf8')), { fingerprint: fp, name: 'org/base', version: '1.0', chain_id: 'hallmark-devnet' });
  t.equal(fpOf((await h('model', 'fingerprint', base)).stdout), fp, '.hallmark.json is not part of the fingerprint');

  const child = join(home, 'child');
  writeModel(child, 'child');
  const regChild = await h('model', 'register', child, '--name', 'org/child', '--version', '1.0', '--parent', `${fp}:finetune`, '--json');
  t.equal(regChild.code, 0, regChild.stderr);
  const childFp = JSON.parse(regChild.stdout).fingerprint as string;
  t.match(JSON.parse(regChild.stdout), { tensor_fingerprint: json.tensor_fingerprint, receipt: { status: 'ok' } }, 'the same weights: the same tensor fingerprint');

  const shown = await h('model', 'show', fp);
  t.equal(shown.code, 0, shown.stderr);
  t.match(shown.stdout, /^name +org\/base$/m);
  t.match(shown.stdout, /^training code +github\.com\/org\/train@abc1234$/m);
  t.match(shown.stdout, /^dataset +abab\S+ hf:\/\/datasets\/org\/d$/m);
  const byPath = JSON.parse((await h('model', 'show', child, '--json')).stdout);
  t.match(byPath.model, { name: 'org/child', parents: [{ fingerprint: fp, relation: 'finetune' }] }, 'show PATH reads its .hallmark.json');
  rmSync(join(child, '.hallmark.json'));
  t.equal(JSON.parse((await h('model', 'show', child, '--json')).stdout).model.fingerprint, childFp, 'or fingerprints it');

  const up = await h('model', 'lineage', childFp);
  t.equal(up.code, 0, up.stderr);
  t.match(up.stdout, new RegExp(`^org/child 1\\.0  ${childFp}  active\\n  finetune: org/base 1\\.0  ${fp}  active\\n$`), `ancestors as a tree:\n${up.stdout}`);
  const down = await h('model', 'lineage', fp, '--descendants');
  t.match(down.stdout, new RegExp(`^  finetune: org/child 1\\.0  ${childFp}`, 'm'));
  const graph = JSON.parse((await h('model', 'lineage', fp, '--descendants', '--depth', '1', '--json')).stdout);
  t.match(graph, { direction: 'descendants', nodes: [{ depth: 0 }, { depth: 1 }], edges: [{ child: childFp, parent: fp, relation: 'finetune' }], next_cursor: null });

  // Attest, revoke the attestation.
  const att = await h('model', 'attest', fp, '--kind', 'eval', '--value', 'mmlu=0.5', '--uri', 'https://example.org/e');
  t.equal(att.code, 0, att.stderr);
  const attId = /^attestation id +([0-9a-f]{64})$/m.exec(att.stdout)?.[1];
  t.ok(attId, att.stdout);
  t.match((await h('model', 'show', fp)).stdout, new RegExp(`^attestation ${attId}  eval=mmlu=0\\.5`, 'm'));
  t.equal((await h('model', 'revoke-attestation', attId!, '--reason', 'wrong split')).code, 0);
  t.match(JSON.parse((await h('model', 'show', fp, '--json')).stdout).attestations, [{ id: attId, revoked: true, revoke_reason: 'wrong split' }]);

  // Transfer the child; update the base (what is not given is kept).
  t.equal((await h('keys', 'add', 'bob')).code, 0);
  const bob = JSON.parse((await h('keys', 'show', 'bob', '--json')).stdout).address;
  const moved = await h('model', 'transfer', childFp, 'bob');
  t.equal(moved.code, 0, moved.stderr);
  t.equal(JSON.parse((await h('model', 'show', childFp, '--json')).stdout).model.owner, bob);
  t.equal((await h('model', 'update', fp, '--metadata-uri', 'https://example.org/card')).code, 0);
  t.match(JSON.parse((await h('model', 'show', fp, '--json')).stdout).model,
    { license: 'Apache-2.0', metadata_uri: 'https://example.org/card', eval_digest: /^[0-9a-f]{64}$/ });

  // Verify.
  const ok = await h('model', 'verify', base);
  t.equal(ok.code, 0, ok.stdout + ok.stderr);
  t.match(ok.stdout, /^verified: org\/base 1\.0, registered at height \d+ by hm1\S+, proven at height \d+ against the 1 validator\(s\) of /m);
  t.match(ok.stdout, /^attestations +1 \(unverified/m);
  const weights = join(base, 'model.safetensors');
  const original = readFileSync(weights);
  const flipped = Buffer.from(original);
  flipped[flipped.length - 1]! ^= 1; // inside tensor b, the last one written
  writeFileSync(weights, flipped);
  const changed = await h('model', 'verify', base);
  t.equal(changed.code, 2, changed.stdout + changed.stderr);
  t.match(changed.stdout, /^changed +model\.safetensors$/m);
  t.match(changed.stdout, /^changed tensor +b$/m);
  t.notMatch(changed.stdout, /^changed tensor +w$/m);
  const changedJson = JSON.parse((await h('model', 'verify', base, '--json')).stdout);
  t.match(changedJson, { result: 'files_differ', exit_code: 2, differences: { files: { changed: ['model.safetensors'] }, tensors: { changed: ['b'] } } });
  writeFileSync(weights, original);
  const config = join(base, 'config.json');
  const configBytes = readFileSync(config);
  rmSync(config);
  const missing = await h('model', 'verify', base);
  t.equal(missing.code, 2);
  t.match(missing.stdout, /^missing +config\.json$/m);
  writeFileSync(config, configBytes);
  writeFileSync(join(base, 'tokenizer', 'extra.txt'), 'x');
  const extra = await h('model', 'verify', base);
  t.equal(extra.code, 2);
  t.match(extra.stdout, /^extra +tokenizer\/extra\.txt$/m);
  rmSync(join(base, 'tokenizer', 'extra.txt'));
  t.equal((await h('model', 'verify', base)).code, 0, 'restored: verified again');

  const other = join(home, 'other');
  writeModel(other, 'other');
  const nobody = await h('model', 'verify', other, '--fingerprint', 'cd'.repeat(32));
  t.equal(nobody.code, 3, nobody.stdout + nobody.stderr);
  t.match(nobody.stdout, /^not registered: no model with fingerprint cdcd\S+ on chain hallmark-devnet/m);
  t.equal((await h('model', 'verify', other)).code, 3, "an unregistered folder's own fingerprint");

  // Supersede, then revoke.
  t.equal((await h('model', 'supersede', fp, '--by', childFp)).code, 0);
  t.match((await h('model', 'verify', base)).stdout, new RegExp(`^verified: org/base 1\\.0 \\(superseded by ${childFp}\\)`, 'm'));
  t.equal((await h('model', 'revoke', fp, '--reason', 'leaked eval set')).code, 0);
  writeFileSync(config, '{}');
  const revoked = await h('model', 'verify', base);
  t.equal(revoked.code, 4, revoked.stdout);
  t.match(revoked.stdout, /^revoked: leaked eval set$/m);
  t.match(revoked.stdout, /^changed +config\.json$/m, 'differences are listed even when revoked');
  const again = await h('model', 'revoke', fp, '--reason', 'again');
  t.equal(again.code, 1);
  t.match(again.stdout, /^status +model_refused$/m);
  t.match(again.stderr, /^error: transaction \S+ was committed but refused: revoked: .*revocation is final\n$/);

  // Mistakes: one line naming the option, exit 1.
  const mistakes: [string[], RegExp][] = [
    [['model', 'register', other, '--name', 'x', '--version', '1', '--parent', 'zz:finetune'], /^error: --parent: expected 64 hex characters/],
    [['model', 'register', other, '--name', 'x', '--version', '1', '--parent', `${fp}:cousin`], /^error: --parent: unknown relation "cousin"/],
    [['model', 'register', other, '--name', 'x', '--version', '1', '--dataset', 'hf://d'], /^error: --dataset: expected DIGEST=URI/],
    [['model', 'register', other, '--name', 'x', '--version', '1', '--code', 'repo'], /^error: --code: expected REPOSITORY@COMMIT/],
    [['model', 'register', other, '--name', 'x', '--version', '1', '--eval', join(home, 'none.json')], /^error: --eval: cannot read/],
    [['model', 'register', other, '--version', '1'], /required option '--name <name>'/],
    [['model', 'fingerprint', join(home, 'nothing-here')], /^error: .*nothing-here/],
    [['model', 'fingerprint', other, '--format', 'spdx'], /^error: --format: expected in-toto/],
    [['model', 'fingerprint', other, '--threads', 'many'], /^error: --threads: expected a non-negative whole number/],
    [['model', 'verify', base, '--trust-height', '3'], /^error: --trust-height and --trust-hash go together/],
    [['model', 'verify', base, '--fingerprint', 'xyz'], /^error: --fingerprint: expected 64 hex/],
    [['model', 'verify', base, '--genesis', join(home, 'none.json')], /^error: cannot read the genesis file/],
    [['model', 'lineage', 'abc'], /^error: fingerprint: expected 64 hex/],
    [['model', 'show', 'ef'.repeat(32)], /^error: no model with fingerprint/],
    [['model', 'transfer', childFp, 'nobody'], /^error: to: "nobody" is neither/],
    [['model', 'update', fp], /^error: nothing to update/],
  ];
  const runs = await Promise.all(mistakes.map(([args]) => h(...args)));
  runs.forEach((r, i) => {
    t.equal(r.code, 1, `${mistakes[i]![0].join(' ')}: exit 1`);
    t.match(r.stderr, mistakes[i]![1], r.stderr);
  });

  const pending = await h('model', 'register', other, '--name', 'org/other', '--version', '1', '--no-wait');
  t.equal(pending.code, 0, pending.stderr);
  t.match(pending.stdout, /^status +checked$/m);
  t.notOk(existsSync(join(other, '.hallmark.json')), 'nothing is written before the commit');

  // A single file registers too (no .hallmark.json: it is not a folder).
  const single = join(home, 'single');
  writeFile(single, 'w.safetensors', readFileSync(join(base, 'model.safetensors')));
  const file = await h('model', 'register', join(single, 'w.safetensors'), '--name', 'org/single', '--version', '1');
  t.equal(file.code, 0, file.stderr);
  t.notMatch(file.stdout, /^wrote/m);
  t.equal((await h('model', 'verify', join(single, 'w.safetensors'))).code, 0);

  t.equal(await stop(), 0);
});
