{
  "targets": [{
    "target_name": "hearth_stage",
    "sources": ["src/addon.cc", "src/stage.cc"],
    "include_dirs": [
      "<!@(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node -p \"require('./build-config.json').includeDirs.join(' ')\")"
    ],
    "libraries": ["<!@(node -p \"require('./build-config.json').libs.join(' ')\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O2"],
    "conditions": [
      ["OS=='linux'", {
        "ldflags": ["-Wl,-rpath,<!(node -p \"require('./build-config.json').libDir\")"]
      }],
      ["OS=='mac'", {
        "xcode_settings": {
          "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
          "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
          "MACOSX_DEPLOYMENT_TARGET": "11.0",
          "OTHER_LDFLAGS": ["-Wl,-rpath,<!(node -p \"require('./build-config.json').libDir\")"]
        }
      }],
      ["OS=='win'", {
        "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } }
      }]
    ]
  }]
}
