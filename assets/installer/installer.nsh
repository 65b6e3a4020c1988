; Windows firewall rules for Hearth, added by the installer and removed by the uninstaller:
; the node's gRPC port (TCP 7420, where the cluster's members reach this machine) and LAN
; discovery (mDNS, UDP 5353), for Hearth.exe only. Without them Windows asks on first start,
; and a "Cancel" leaves the machine unreachable by the cluster.
!macro customInstall
  nsExec::Exec 'netsh advfirewall firewall delete rule name="Hearth node"'
  nsExec::Exec 'netsh advfirewall firewall delete rule name="Hearth discovery"'
  nsExec::Exec 'netsh advfirewall firewall add rule name="Hearth node" dir=in action=allow protocol=TCP localport=7420 program="$INSTDIR\${APP_EXECUTABLE_FILENAME}" enable=yes profile=private,domain'
  nsExec::Exec 'netsh advfirewall firewall add rule name="Hearth discovery" dir=in action=allow protocol=UDP localport=5353 program="$INSTDIR\${APP_EXECUTABLE_FILENAME}" enable=yes profile=private,domain'
!macroend

!macro customUnInstall
  nsExec::Exec 'netsh advfirewall firewall delete rule name="Hearth node"'
  nsExec::Exec 'netsh advfirewall firewall delete rule name="Hearth discovery"'
!macroend
