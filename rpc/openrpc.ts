/**
 * The OpenRPC 1.2.6 document (https://spec.open-rpc.org) for a method table, built from the very
 * zod schemas the server validates params with, so the description cannot drift from behaviour.
 * Params go by name or by position (`paramStructure: "either"`): each field of a method's params
 * object becomes a ContentDescriptor, in the field order that is also their positional order.
 * Schemas are JSON Schema draft-07 (the dialect OpenRPC 1.2.6 references); params describe what a
 * client sends (the input side of each schema), results what it gets back.
 */
import { z } from 'zod';
import pkg from '../package.json' with { type: 'json' };
import type { RpcErrorName } from './errors.ts';
import type { RpcMethod } from './method.ts';
import { paramNames } from './params.ts';

export const OPENRPC_VERSION = '1.2.6';
export const RPC_TITLE = 'Hallmark JSON-RPC';

type JsonSchema = Record<string, unknown>;

const ContentDescriptorSchema = z.looseObject({
  name: z.string(), description: z.string().optional(), required: z.boolean(), schema: z.record(z.string(), z.unknown()),
});
const ErrorObjectSchema = z.object({ code: z.int(), message: z.string() });

/** The shape of the document, as rpc.discover's result schema. */
export const OpenRpcDocumentSchema = z.looseObject({
  openrpc: z.literal(OPENRPC_VERSION),
  info: z.looseObject({ title: z.string(), version: z.string(), description: z.string().optional() }),
  methods: z.array(z.looseObject({
    name: z.string(),
    summary: z.string(),
    description: z.string().optional(),
    paramStructure: z.literal('either'),
    params: z.array(ContentDescriptorSchema),
    result: ContentDescriptorSchema,
    errors: z.array(ErrorObjectSchema),
  })),
  components: z.looseObject({ errors: z.record(z.string(), ErrorObjectSchema) }),
});

export type ContentDescriptor = z.infer<typeof ContentDescriptorSchema>;
export type ErrorObject = z.infer<typeof ErrorObjectSchema>;
export type OpenRpcDocument = z.infer<typeof OpenRpcDocumentSchema>;

/** Errors any method can return, whatever it does. */
const EVERY_METHOD: readonly RpcErrorName[] = ['invalid_params', 'internal_error', 'request_timeout', 'server_busy'];

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

/** The params in their positional order. */
function paramDescriptors(m: RpcMethod): ContentDescriptor[] {
  const whole = jsonSchema(m.params, 'input');
  const properties = (whole.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((whole.required ?? []) as string[]);
  return paramNames(m.params).map((name) => {
    const schema = properties[name] ?? {};
    return { name, ...(typeof schema.description === 'string' ? { description: schema.description } : {}), required: required.has(name), schema };
  });
}

/**
 * The document for `methods`. `errors` is the server's error table (errors.ts RPC_ERRORS); it is
 * passed in so this module needs nothing from errors.ts at run time.
 */
export function openRpcDocument(methods: readonly RpcMethod[], errors: Readonly<Record<RpcErrorName, ErrorObject>>): OpenRpcDocument {
  const errorObject = (name: RpcErrorName): ErrorObject => ({ code: errors[name].code, message: errors[name].message });
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: RPC_TITLE,
      version: pkg.version,
      description: 'JSON-RPC 2.0 over HTTP POST (Content-Type: application/json). Params by name or by position. Bytes are lower-case hex ' +
        'without 0x, addresses bech32m hm1…, amounts decimal strings, times RFC 3339 UTC. See docs/rpc.md for limits.',
    },
    methods: methods.map((m) => ({
      name: m.name,
      summary: m.summary,
      ...(m.description === undefined ? {} : { description: m.description }),
      paramStructure: 'either' as const,
      params: paramDescriptors(m),
      result: { name: `${m.name}.result`, required: true, schema: jsonSchema(m.result, 'output') },
      errors: [...new Set([...m.errors, ...EVERY_METHOD])].map(errorObject),
    })),
    components: {
      errors: Object.fromEntries((Object.keys(errors) as RpcErrorName[]).map((name) => [name, errorObject(name)])),
    },
  };
}
