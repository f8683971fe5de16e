/**
 * The error every model-fingerprint step throws: a FingerprintError's code says what kind of
 * problem it was (a symlink, a special file, nothing to fingerprint, an I/O failure, a malformed
 * header or index, a file the model names that is not there) and its message names the file, and
 * for a malformed tensor header the byte offset, so a person can find what to fix.
 */
import { CodedError } from '../chain/errors.ts';

export class FingerprintError extends CodedError<'symlink' | 'special_file' | 'no_files' | 'io' | 'malformed' | 'not_found'> {}
