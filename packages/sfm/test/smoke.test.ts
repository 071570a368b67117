import * as sfm from '../src';
test('package loads', () => {
  expect(typeof sfm).toBe('object');
});
