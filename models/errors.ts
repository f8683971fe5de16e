/**
 * The one error class of model fingerprints (format version 1): a walk that meets a
 * symlink or a special file, a folder with nothing to hash, a read that fails, a manifest or tensor
 * header that does not parse, a path that is not there. The message always names the file (and,
 * for a malformed tensor header, the byte offset), so a person can go and look at it.
 */
import { CodedError } from '../chain/errors.ts';

export type FingerprintErrorCode = 'symlink' | 'special_file' | 'no_files' | 'io' | 'malformed' | 'not_found';

export class FingerprintError extends CodedError<FingerprintErrorCode> {}
