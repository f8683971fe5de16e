/** Typed errors of the state tree; `code` is stable, the message says what to do about it. */
import { CodedError } from '../chain/errors.ts';

export type StateErrorCode =
  | 'version_unknown' // never committed here (beyond the latest, before the first, not an integer)
  | 'version_pruned' // committed once, but outside the keepVersions window now
  | 'version_out_of_order' // prepare/markCommitted for anything but latestVersion + 1
  | 'key_invalid' // key (or iteration bound) of the wrong type or length
  | 'proof_malformed' // decodeStateProof was given bytes that are not a canonical proof
  | 'restore_incomplete' // a snapshot restore into this database was begun and not finished (restore.ts)
  | 'corrupt'; // the database lacks a node a committed root refers to, or holds undecodable bytes

export class StateError extends CodedError<StateErrorCode> {}

