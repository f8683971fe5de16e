import t from 'tap';
import { duplicateKeys } from '../chain/json-keys.ts';

t.test('duplicateKeys finds repeated keys by path and nothing else', async (t) => {
  t.same(duplicateKeys('{"a": 1, "b": 2}'), []);
  t.same(duplicateKeys('{"a": 1, "a": 2}'), [['a']]);
  t.same(duplicateKeys('{"x": {"a": 1}, "y": {"a": 2}}'), [], 'equal keys in different objects');
  t.same(duplicateKeys('{"l": [{"a": 1}, {"b": 1, "b": 2}]}'), [['l', 1, 'b']], 'inside an array element');
  t.same(duplicateKeys('[[1, 2], {"k": [3, {"z": 0, "z": 1}]}]'), [[1, 'k', 1, 'z']], 'indexes count elements of any kind');
  t.same(duplicateKeys('{"s": "a\\", \\"s\\": 1", "t": "{\\"u\\": 1, \\"u\\": 2}"}'), [], 'key-like text inside strings');
  t.same(duplicateKeys('{"\\u0061": 1, "a": 2}'), [['a']], 'keys are compared after unescaping');
  t.same(duplicateKeys('{"a": 1, "a": 2, "a": 3}'), [['a'], ['a']], 'each repeat is reported');
  t.same(duplicateKeys(' { "e" : { } , "e" : [ ] } '), [['e']], 'whitespace and empty containers');
});
