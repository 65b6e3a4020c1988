{
  # Paths come from the generated build-config.gypi (scripts/build-native.mjs) as JSON lists, so
  # gyp never splits them: no command expansion here.
  "includes": ["build-config.gypi"],
  "variables": {
    "win_delay_load_hook": "true"
  },
  "targets": [{
    "target_name": "hearth_stage",
    "sources": ["src/addon.cc", "src/stage.cc"],
    "include_dirs": ["<@(hearth_include_dirs)"],
    "libraries": ["<@(hearth_libraries)"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O2"],
    "conditions": [
      ["OS=='linux'", {
        "ldflags": ["<@(hearth_ldflags)"]
      }],
      ["OS=='mac'", {
        "xcode_settings": {
          "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
          "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
          "MACOSX_DEPLOYMENT_TARGET": "11.0",
          "OTHER_LDFLAGS": ["<@(hearth_ldflags)"]
        }
      }],
      ["OS=='win'", {
        "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] } }
      }]
    ]
  }]
}
