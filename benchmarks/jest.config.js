// Benchmark tests run whole pipelines (data, cluster, reports): a longer default timeout.
module.exports = { ...require('../jest.config.base.js'), testTimeout: 60000 };
