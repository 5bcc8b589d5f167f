// Applies the @nestjs/swagger compiler plugin under ts-jest, so tests see the same OpenAPI metadata as `nest build`.
const plugin = require('@nestjs/swagger/plugin');
const options = require('../nest-cli.json').compilerOptions.plugins.find((entry) => entry.name === '@nestjs/swagger').options;

module.exports.name = 'nestjs-swagger-transformer';
// Bump when the options change so ts-jest's cache is invalidated.
module.exports.version = 1;
module.exports.factory = (compiler) => plugin.before(options, compiler.program);
