/**
 * Reading the model registry for people: a record as rows, its attestations, and `model lineage`'s
 * graph (every page of model_lineage) as an indented tree.
 */
import type { RpcClient } from '../rpc/client.ts';
import type { RpcResult } from '../rpc/methods.ts';
import { rows } from './format.ts';

export type ModelOut = RpcResult<'model_get'>['model'];
export type AttestationOut = RpcResult<'model_attestations'>['attestations'][number];
export type LineageOut = RpcResult<'model_lineage'>;

export function modelRows(m: ModelOut): string {
  return rows([
    ['fingerprint', m.fingerprint], ['tensor fingerprint', m.tensor_fingerprint], ['name', m.name], ['version', m.version],
    ['owner', m.owner], ['status', m.status], ['revoke reason', m.revoke_reason ?? undefined], ['superseded by', m.superseded_by ?? undefined],
    ['license', m.license], ['metadata uri', m.metadata_uri], ['eval digest', m.eval_digest],
    ['training code', m.training_code === null ? null : `${m.training_code.repository}@${m.training_code.commit}`],
    ...m.parents.map((p): [string, unknown] => ['parent', `${p.fingerprint} ${p.relation}`]),
    ...m.datasets.map((d): [string, unknown] => ['dataset', `${d.digest} ${d.uri}`]),
    ['registered', `height ${m.registered_height} at ${m.registered_time}`], ['updated', `height ${m.updated_height}`],
  ]);
}

export function attestationLines(list: readonly AttestationOut[]): string {
  return list.map((a) => `attestation ${a.id}  ${a.kind}=${a.value}  by ${a.author} at height ${a.height}` +
    `${a.revoked ? `  revoked: ${a.revoke_reason ?? ''}` : ''}\n`).join('');
}

/** Every page of an attestation list. */
export async function allAttestations(rpc: RpcClient, fingerprint: string): Promise<AttestationOut[]> {
  const out: AttestationOut[] = [];
  let cursor: string | undefined;
  do {
    const page = await rpc.call('model_attestations', { fingerprint, limit: 200, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.attestations);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

/** Every page of a lineage walk, joined into one graph. */
export async function fullLineage(rpc: RpcClient, fingerprint: string, direction: 'ancestors' | 'descendants', depth: number | undefined): Promise<LineageOut> {
  let cursor: string | undefined;
  let graph: LineageOut | undefined;
  do {
    const page = await rpc.call('model_lineage', {
      fingerprint, direction, limit: 500, ...(depth === undefined ? {} : { depth }), ...(cursor === undefined ? {} : { cursor }),
    });
    if (graph === undefined) graph = page;
    else graph = { ...graph, nodes: [...graph.nodes, ...page.nodes], edges: [...graph.edges, ...page.edges], truncated: page.truncated };
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return { ...graph!, next_cursor: null };
}

/**
 * The graph as a tree from its root: for ancestors each model's parents below it, for descendants
 * its children. A model reached a second time (a merge) is shown once more, marked, without its subtree.
 */
export function lineageTree(g: LineageOut): string {
  const byFp = new Map(g.nodes.map((n) => [n.model.fingerprint, n.model]));
  const next = new Map<string, { fp: string; relation: string }[]>();
  for (const e of g.edges) {
    const [from, to] = g.direction === 'ancestors' ? [e.child, e.parent] : [e.parent, e.child];
    next.set(from, [...(next.get(from) ?? []), { fp: to, relation: e.relation }]);
  }
  const seen = new Set<string>();
  const lines: string[] = [];
  const visit = (fp: string, relation: string | null, indent: string): void => {
    const m = byFp.get(fp);
    const what = m === undefined ? fp : `${m.name} ${m.version}  ${fp}  ${m.status}`;
    const again = seen.has(fp);
    lines.push(`${indent}${relation === null ? '' : `${relation}: `}${what}${again ? '  (shown above)' : ''}`);
    if (again) return;
    seen.add(fp);
    for (const n of next.get(fp) ?? []) visit(n.fp, n.relation, `${indent}  `);
  };
  visit(g.root, null, '');
  if (g.truncated) lines.push('(truncated: the walk stopped at its limit)');
  return `${lines.join('\n')}\n`;
}
